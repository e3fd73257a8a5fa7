// Per rep-channel capacity and warm-up (PATCH /api/reps/<id>/channels/<pk>/); saving says what it
// changed today. (Date overrides sit with the week, in schedule.js.)
import { html, useState, api, errorText, Notice, useLoad, limitName } from "./ui.js";

const hhmm = (t) => (t || "").slice(0, 5);
const numberOrNull = (v) => (v === "" || v === null || v === undefined ? null : Number(v));

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
