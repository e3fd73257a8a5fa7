// The live team board: each rep's presence, open conversations, today's use against each allowance
// per channel and activity with the limit that binds, and what waits until when; the unassigned queue.
import { html, useState, api, errorText, Notice, when, limitName } from "./ui.js";

function Activity({ a }) {
  const blocked = a.blocked_by;
  const status = blocked ? `${limitName(blocked)}${a.next_opening ? ` until ${when(a.next_opening)}` : ""}`
    : `open${a.window_closes ? ` until ${when(a.window_closes)}` : ""}`;
  return html`<li class=${`mc-activity${blocked ? " mc-blocked" : ""}`} data-activity=${a.activity}>
    <span class="mc-act-name">${a.activity}</span>
    <meter min="0" max=${Math.max(1, a.allowance)} value=${a.used} aria-label=${`${a.activity}: ${a.used} of ${a.allowance} used`}></meter>
    <span><strong>${a.used} / ${a.allowance}</strong>${a.allowance < a.max_capacity ? html` <span class="mc-muted">(cap ${a.max_capacity})</span>` : ""}</span>
    <span class="mc-binds">binds: ${limitName(a.binding_limit)}</span>
    <span class="mc-state">${status}</span>
  </li>`;
}

// Messages and activity requests (likes, comments…) that wait: how many, why and until when.
function Waiting({ items }) {
  if (!items.length) return html`<span class="mc-muted">nothing waits</span>`;
  return html`<ul class="mc-plain mc-waiting">${items.map((w) => html`<li key=${w.activity + w.status + w.code} data-activity=${w.activity}>
    <strong>${w.count}</strong> ${w.activity}${w.count === 1 ? "" : "s"} ${w.status}${w.reason ? ` — ${w.reason}` : w.code ? ` — ${limitName(w.code)}` : ""}
    ${w.until && w.status === "deferred" ? html` <span class="mc-muted">(until ${when(w.until)})</span>` : ""}</li>`)}</ul>`;
}

function RepRow({ rep }) {
  return html`<tr data-rep=${rep.id}>
    <th scope="row" data-label="Rep"><a href=${`#schedules/${rep.id}`}>${rep.full_name}</a>
      ${rep.role !== "rep" && html` <span class="mc-chip">${rep.role}</span>`}
      ${rep.shifts.map((s) => html`<div class="mc-shift" key=${s.number}>${s.is_day_off ? "day off" : `shift ${s.number}${s.start_time ? ` ${s.start_time.slice(0, 5)}–${(s.end_time || "").slice(0, 5)}` : ""}`}
        ${Object.keys(s.records).length ? ` · ${Object.entries(s.records).map(([k, n]) => `${n} ${k}`).join(", ")}` : ""}</div>`)}</th>
    <td data-label="Presence"><span class=${`mc-dot${rep.online ? " mc-online" : ""}`} aria-hidden="true"></span>
      ${rep.online ? "online" : "offline"} · ${rep.available ? "available" : html`<strong>unavailable</strong>`}</td>
    <td data-label="Open">${rep.open_conversations}</td>
    <td data-label="Today">${rep.channels.length ? rep.channels.map((c) => html`<div class="mc-channel" key=${c.rep_channel_id}>
      <span class="mc-ch-name">${c.channel}${c.sandbox ? " (sandbox)" : ""}${c.available ? "" : " — unavailable"}</span>
      <ul class="mc-plain">${c.activities.map((a) => html`<${Activity} key=${a.activity} a=${a} />`)}</ul></div>`)
      : html`<span class="mc-muted">no channel</span>`}
      ${rep.errors.length > 0 && html`<ul class="mc-plain mc-errors">${rep.errors.map((e) => html`<li key=${e.code}>
        ${e.level === 2 ? "error" : e.level === 1 ? "warning" : "info"}: ${e.message}${e.count > 1 ? ` (×${e.count})` : ""}</li>`)}</ul>`}</td>
    <td data-label="Waiting"><${Waiting} items=${rep.waiting} /></td>
  </tr>`;
}

function Queue({ conversations, reps, onAssigned }) {
  const [error, setError] = useState("");
  const assign = async (conversationId, repId) => {
    if (!repId) return;
    try {
      await api(`/api/conversations/${conversationId}/assign/`, { method: "POST", body: { rep_id: Number(repId) } });
      setError("");
      onAssigned();
    } catch (err) { setError(errorText(err)); }
  };
  const pickable = reps.filter((r) => r.role === "rep");
  return html`<section class="mc-card" aria-labelledby="queue-title">
    <h2 id="queue-title">Unassigned queue</h2>
    <${Notice} message=${error} kind="error" />
    <ul id="unassigned" class="mc-plain">
      ${conversations.length ? conversations.map((c) => html`<li key=${c.id} class="mc-queue-item">
        <span>${c.contact_name} (${c.channel_kind})</span>
        <label>Assign to <select aria-label=${`Assign ${c.contact_name}`} onChange=${(e) => assign(c.id, e.target.value)}>
          <option value="">—</option>${pickable.map((r) => html`<option value=${r.id}>${r.full_name}</option>`)}</select></label></li>`)
      : html`<li class="mc-muted">Nobody is waiting.</li>`}
    </ul>
  </section>`;
}

export function TeamBoard({ data, reload }) {
  return html`<div class="mc-stack">
    <section class="mc-card" aria-labelledby="board-title">
      <h2 id="board-title">Team today</h2>
      <p class="mc-muted">Live: presence and sends update as they happen. Open conversations: <strong id="open-count">${data.open_conversations}</strong></p>
      <div class="mc-scroll"><table class="mc-table mc-board">
        <thead><tr><th scope="col">Rep</th><th scope="col">Presence</th><th scope="col">Open</th>
          <th scope="col">Today per channel and activity</th><th scope="col">Waiting</th></tr></thead>
        <tbody id="reps">${data.reps.map((r) => html`<${RepRow} key=${r.id} rep=${r} />`)}</tbody>
      </table></div>
    </section>
    <${Queue} conversations=${data.unassigned} reps=${data.reps} onAssigned=${reload} />
  </div>`;
}
