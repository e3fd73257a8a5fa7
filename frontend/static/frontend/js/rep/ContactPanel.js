// Who the contact is: every identity across channels (each opening that channel's conversation), one
// timeline of their messages on every channel, local time in their zone, lead score, tags, owner,
// opt-out state and preferences, campaigns.
import { html, useEffect, useState } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { CHANNEL_ICONS, CHANNEL_NAMES, STATUS_NAMES, dateTime, localClock, messageSummary, messageTime } from "./format.js";
import { jumpTo, loadTimelineOlder, openConversation, togglePanel } from "./thread.js";

const STEP_STATES = { scheduled: "scheduled", sent: "sent", delivered: "delivered", read: "read", failed: "failed",
                      skipped: "skipped", cancelled: "cancelled" };

function LocalTime({ zone }) {
  const [now, setNow] = useState(new Date());
  useEffect(() => { const t = setInterval(() => setNow(new Date()), 30000); return () => clearInterval(t); }, []);
  return html`<span class="local-time">${localClock(zone, now)}</span> <span class="muted">${zone}</span>`;
}

function hours(start, end) {
  return start && end ? `${start.slice(0, 5)}–${end.slice(0, 5)}` : "any time";
}

function Identities({ contact, channels, current }) {
  const byChannel = new Map((channels || []).map((ch) => [ch.channel_id, ch]));
  return html`<ul class="identities">
    ${contact.identities.map((i) => {
      const known = byChannel.get(i.channel_id);
      const here = known && known.conversation_id === current;
      return html`<li key=${i.id} data-channel=${i.channel_kind}>
        <span class=${`channel small channel-${i.channel_kind}`} aria-hidden="true">${CHANNEL_ICONS[i.channel_kind] || "?"}</span>
        <span><strong>${i.channel_name}</strong> <span class="muted">${CHANNEL_NAMES[i.channel_kind] || i.channel_kind}</span><br/>
          <span class="external-id">${i.external_id}</span></span>
        ${here ? html`<span class="muted">this conversation</span>`
          : known && known.conversation_id ? html`<button type="button" class="link" onClick=${() => openConversation(known.conversation_id)}>
              Open ${i.channel_name} (${STATUS_NAMES[known.conversation_status] || known.conversation_status})</button>`
          : html`<span class="muted">no conversation yet</span>`}
      </li>`;
    })}
  </ul>`;
}

// Newest last, each message labelled with its channel; "Show earlier" pages back, and each entry
// opens its conversation at that message. Only what the server scopes to this user is here.
function Timeline({ timeline, contact, current }) {
  const names = new Map(contact.identities.map((i) => [i.channel_id, i]));
  const messages = [...timeline.messages.values()];
  return html`<section class="timeline" aria-labelledby="timeline-heading">
    <h3 id="timeline-heading">Timeline on every channel</h3>
    ${timeline.error ? html`<p class="error" role="alert">${timeline.error}</p>` : null}
    ${timeline.next ? html`<button type="button" class="link older" onClick=${loadTimelineOlder} disabled=${timeline.loading}>
      ${timeline.loading ? "Loading…" : "Show earlier"}</button>` : null}
    ${!messages.length ? html`<p class="muted">${timeline.loading ? "Loading…" : "No messages yet."}</p>` : null}
    <ol class="timeline-list">${messages.map((m) => {
      const identity = names.get(m.channel_id);
      const channel = identity ? identity.channel_name : `channel ${m.channel_id}`;
      const kind = identity ? identity.channel_kind : "";
      const who = m.direction === "in" ? (contact.name || "Contact") : "Us";
      const show = m.conversation_id === current ? "Show above" : "Show in conversation";
      return html`<li key=${m.id} class=${`timeline-item ${m.direction === "in" ? "in" : "out"}`} data-channel=${kind} data-id=${m.id}>
        <span class="timeline-head"><span class="chip timeline-channel">${channel}</span>
          <span class="muted">${who} · <time datetime=${messageTime(m)}>${dateTime(messageTime(m))}</time></span></span>
        <span class="timeline-body">${messageSummary(m)}</span>
        <button type="button" class="link" aria-label=${`${show} on ${channel}: ${messageSummary(m).slice(0, 40)}`}
          onClick=${() => jumpTo(m.conversation_id, m.id)}>${show}</button>
      </li>`;
    })}</ol>
  </section>`;
}

function Campaigns({ campaigns }) {
  if (!campaigns) return html`<p class="muted">Loading…</p>`;
  if (!campaigns.length) return html`<p class="muted">In no campaign.</p>`;
  return html`<ul class="campaigns">${campaigns.map((c) => html`<li key=${c.id}>
    <strong>${c.name}</strong> <span class="chip">${c.status}</span>
    ${c.follow_up_steps ? html` <span class="muted">sequence of ${c.follow_up_steps + 1} steps</span>` : null}
    <ul>${c.steps.map((s) => html`<li key=${s.step}>${s.step === 0 ? "First message" : `Follow-up ${s.step}`}: ${STEP_STATES[s.state] || s.state}
      ${s.reason ? ` — ${s.reason}` : ""}${s.replied_at ? ` · replied ${dateTime(s.replied_at)}` : ""}</li>`)}</ul>
  </li>`)}</ul>`;
}

export function ContactPanel({ state }) {
  const p = state.panel;
  if (!p.open || !state.current) return null;
  const contact = p.contact;
  return html`<aside id="contact-panel" class="contact-panel" aria-labelledby="contact-heading">
    <div class="panel-head"><h2 id="contact-heading">${contact ? contact.name || contact.phone || contact.email : "Contact"}</h2>
      <button type="button" class="link" onClick=${() => togglePanel(false)}>Close</button></div>
    ${p.error ? html`<p class="error" role="alert">${p.error}</p>` : null}
    ${contact ? html`
      <dl class="facts">
        <dt>Local time</dt><dd><${LocalTime} zone=${contact.preferences.timezone} /></dd>
        <dt>Lead score</dt><dd class="lead-score">${contact.lead_score}</dd>
        <dt>Owner</dt><dd class="owner">${contact.owner_name || "Nobody"}</dd>
        <dt>Tags</dt><dd>${contact.tags.length ? html`<ul class="tags">${contact.tags.map((t) => html`<li key=${t}>${t}</li>`)}</ul>` : "None"}</dd>
        ${contact.phone ? html`<dt>Phone</dt><dd>${contact.phone}</dd>` : null}
        ${contact.email ? html`<dt>E-mail</dt><dd>${contact.email}</dd>` : null}
        <dt>Consent</dt><dd class="consent">${contact.preferences.opted_out
          ? html`<strong class="warn-text">Opted out</strong>${contact.preferences.opt_out_reason ? ` (${contact.preferences.opt_out_reason})` : ""}${contact.preferences.opted_out_at ? ` since ${dateTime(contact.preferences.opted_out_at)}` : ""}`
          : "Not opted out"}
          ${contact.preferences.opt_outs.length ? html`<br/>Refuses: ${contact.preferences.opt_outs.join(", ")}` : null}
          ${contact.preferences.opt_out_purposes.length ? html`<br/>No ${contact.preferences.opt_out_purposes.join(", ")} messages` : null}
          ${contact.preferences.opt_ins.length ? html`<br/>Opted in: ${contact.preferences.opt_ins.join(", ")}` : null}</dd>
        <dt>Hours</dt><dd>reachable ${hours(contact.preferences.allowed_start, contact.preferences.allowed_end)}${
          contact.preferences.quiet_start ? `, quiet ${hours(contact.preferences.quiet_start, contact.preferences.quiet_end)}` : ""}</dd>
        <dt>Language</dt><dd>${contact.preferences.language}</dd>
      </dl>
      <h3>Channels</h3>
      <${Identities} contact=${contact} channels=${p.channels} current=${state.current} />
      ${state.timeline.contactId === contact.id ? html`<${Timeline} timeline=${state.timeline} contact=${contact} current=${state.current} />` : null}
      <h3>Campaigns and sequences</h3>
      <${Campaigns} campaigns=${p.campaigns} />` : html`<p class="muted">Loading…</p>`}
  </aside>`;
}
