// A rep's date overrides (dated shifts and days off, /api/reps/<id>/shifts/) and per rep-channel
// capacity and warm-up (PATCH /api/reps/<id>/channels/<pk>/); saving says what it changed today.
import { html, useState, api, errorText, Notice, useLoad, limitName } from "./ui.js";

const hhmm = (t) => (t || "").slice(0, 5);
const numberOrNull = (v) => (v === "" || v === null || v === undefined ? null : Number(v));

export function Overrides({ rep }) {
  const [shifts, error, reload] = useLoad(() => api(`/api/reps/${rep.id}/shifts/`), [rep.id]);
  const blank = { date: new Date().toISOString().slice(0, 10), number: 1, start_time: "09:00", end_time: "17:00", is_day_off: false, note: "" };
  const [draft, setDraft] = useState(blank);
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const set = (key) => (e) => setDraft({ ...draft, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const add = async (e) => {
    e.preventDefault();
    const body = { ...draft, number: Number(draft.number) };
    if (body.is_day_off) { body.start_time = null; body.end_time = null; }
    try {
      await api(`/api/reps/${rep.id}/shifts/`, { method: "POST", body });
      setSaid({ message: `Override for ${draft.date} saved.`, kind: "info" });
      reload();
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  const today = new Date().toISOString().slice(0, 10);
  const upcoming = (shifts || []).filter((s) => s.date >= today);
  return html`<section class="mc-card" aria-labelledby="overrides-title">
    <h2 id="overrides-title">Date overrides</h2>
    <p class="mc-muted">A dated shift replaces the week's windows on that date; a day off clears it.</p>
    <${Notice} message=${error} kind="error" />
    ${upcoming.length ? html`<div class="mc-scroll"><table class="mc-table">
      <thead><tr><th scope="col">Date</th><th scope="col">Shift</th><th scope="col">Hours</th><th scope="col">Note</th></tr></thead>
      <tbody>${upcoming.map((s) => html`<tr key=${s.id}><td>${s.date}</td><td>${s.number}</td>
        <td>${s.is_day_off ? "day off" : `${hhmm(s.start_time)}–${hhmm(s.end_time)}`}</td><td>${s.note}</td></tr>`)}</tbody></table></div>`
      : html`<p class="mc-muted">No override from today on.</p>`}
    <form class="mc-inline-form" onSubmit=${add}>
      <label>Date <input type="date" required value=${draft.date} onInput=${set("date")} /></label>
      <label>Shift number <input type="number" min="1" max="9" required value=${draft.number} onInput=${set("number")} /></label>
      <label><input type="checkbox" checked=${draft.is_day_off} onChange=${set("is_day_off")} /> Day off</label>
      ${!draft.is_day_off && html`<label>From <input type="time" required aria-label="Override start" value=${draft.start_time} onInput=${set("start_time")} /></label>
        <label>to <input type="time" required aria-label="Override end" value=${draft.end_time} onInput=${set("end_time")} /></label>`}
      <label>Note <input maxlength="200" value=${draft.note} onInput=${set("note")} /></label>
      <button type="submit" class="mc-button">Add override</button>
    </form>
    <${Notice} message=${said.message} kind=${said.kind} />
  </section>`;
}

function todayOf(today, repChannelId) {
  const channel = today && today.channels.find((c) => c.rep_channel_id === repChannelId);
  return channel ? channel.activities : [];
}

function CapacityRow({ rep, rc, today, onSaved }) {
  const [form, setForm] = useState({ max_daily_capacity: rc.max_daily_capacity, warmup_start: rc.warmup_start ?? "",
    warmup_step: rc.warmup_step, is_available: rc.is_available });
  const [said, setSaid] = useState(null);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const label = rc.channel_name;
  const save = async (e) => {
    e.preventDefault();
    const before = todayOf(today, rc.id);
    try {
      const saved = await api(`/api/reps/${rep.id}/channels/${rc.id}/`, { method: "PATCH", body: {
        max_daily_capacity: Number(form.max_daily_capacity), warmup_start: numberOrNull(form.warmup_start),
        warmup_step: Number(form.warmup_step || 0), is_available: form.is_available } });
      const fresh = await onSaved();
      const after = todayOf(fresh, rc.id);
      setSaid({ kind: "info", warnings: saved.warnings || [], rows: after.map((a) => {
        const old = before.find((b) => b.activity === a.activity) || {};
        return { activity: a.activity, text: `allowance ${old.allowance ?? "–"} → ${a.allowance}, left ${old.remaining ?? "–"} → ${a.remaining}, binds ${limitName(a.binding_limit)}` };
      }) });
    } catch (err) { setSaid({ kind: "error", message: errorText(err) }); }
  };
  return html`<form class="mc-capacity" onSubmit=${save} aria-label=${`Capacity of ${label}`}>
    <h3>${label}${rc.sandbox ? " (sandbox)" : ""} <span class="mc-muted">· ${rc.zone} · ${hhmm(rc.start_time)}–${hhmm(rc.end_time)}</span></h3>
    <div class="mc-inline-form">
      <label>Daily capacity <input type="number" min="0" required value=${form.max_daily_capacity} aria-label=${`${label} daily capacity`} onInput=${set("max_daily_capacity")} /></label>
      <label>Warm-up start <input type="number" min="0" value=${form.warmup_start} placeholder="none" aria-label=${`${label} warm-up start`} onInput=${set("warmup_start")} /></label>
      <label>Warm-up step per day <input type="number" min="0" value=${form.warmup_step} aria-label=${`${label} warm-up step`} onInput=${set("warmup_step")} /></label>
      <label><input type="checkbox" checked=${form.is_available} onChange=${set("is_available")} /> Available on ${label}</label>
      <button type="submit" class="mc-button">Save ${label}</button>
    </div>
    <ul class="mc-plain mc-muted">${todayOf(today, rc.id).map((a) => html`<li key=${a.activity}>Today ${a.activity}: ${a.used} / ${a.allowance} used, binds ${limitName(a.binding_limit)}</li>`)}</ul>
    ${said && said.kind === "error" && html`<${Notice} message=${said.message} kind="error" />`}
    ${said && said.kind === "info" && html`<div class="mc-changes" role="status"><strong>Saved. Today:</strong>
      <ul class="mc-plain">${said.rows.map((r) => html`<li key=${r.activity}>${r.activity}: ${r.text}</li>`)}
        ${said.warnings.map((w) => html`<li class="mc-warn" key=${w}>${w}</li>`)}</ul></div>`}
  </form>`;
}

export function Capacities({ rep }) {
  const [channels, error] = useLoad(() => api(`/api/reps/${rep.id}/channels/`), [rep.id]);
  const [today, todayError, reloadToday] = useLoad(() => api(`/api/reps/${rep.id}/today/`), [rep.id]);
  const refresh = async () => { const fresh = await api(`/api/reps/${rep.id}/today/`); reloadToday(); return fresh; };
  return html`<section class="mc-card" aria-labelledby="capacity-title">
    <h2 id="capacity-title">Capacity and warm-up per channel</h2>
    <p class="mc-muted">Each active day's allowance grows from the warm-up start by the step, never above the daily capacity.</p>
    <${Notice} message=${error || todayError} kind="error" />
    ${channels === null ? html`<p class="mc-muted">Loading…</p>` : channels.length === 0 ? html`<p class="mc-muted">No channel.</p>`
      : channels.map((rc) => html`<${CapacityRow} key=${rc.id} rep=${rep} rc=${rc} today=${today} onSaved=${refresh} />`)}
  </section>`;
}
