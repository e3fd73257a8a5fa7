// The open conversation: header with its actions, the messages with date separators, typing, composer.
import { html, useEffect, useLayoutEffect, useRef } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { Composer } from "./Composer.js";
import { STATUS_NAMES, channelName, contactName, dateTime, dayKey, dayLabel, messageTime } from "./format.js";
import { Message } from "./Message.js";
import { setThread } from "./store.js";
import { assign, closeThread, loadOlder, markUnread, setStatus, togglePanel } from "./thread.js";

function at(hour, days = 0, weekday = null) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  if (weekday !== null) d.setDate(d.getDate() + ((weekday + 7 - d.getDay()) % 7 || 7));
  d.setHours(hour, 0, 0, 0);
  return d;
}

const PRESETS = [
  { label: "1 hour", when: () => new Date(Date.now() + 3600e3) },
  { label: "3 hours", when: () => new Date(Date.now() + 3 * 3600e3) },
  { label: "Tomorrow 09:00", when: () => at(9, 1) },
  { label: "Next Monday 09:00", when: () => at(9, 0, 1) },
];

function Snooze() {
  const input = useRef(null);
  const snooze = (date) => { setStatus("snoozed", date.toISOString()); input.current.closest("details").open = false; };
  return html`<details class="snooze">
    <summary>Snooze</summary>
    <div class="snooze-menu" role="group" aria-label="Snooze until">
      ${PRESETS.map((p) => html`<button type="button" onClick=${() => snooze(p.when())}>${p.label}</button>`)}
      <label for="snooze-until">Until</label>
      <input id="snooze-until" type="datetime-local" ref=${input} />
      <button type="button" onClick=${() => { if (input.current.value) snooze(new Date(input.current.value)); }}>Snooze until then</button>
    </div>
  </details>`;
}

function Actions({ state, c }) {
  const me = state.me;
  const manages = me.is_superuser || (me.rep && me.rep.role !== "rep");
  return html`<div class="actions" role="toolbar" aria-label="Conversation actions">
    ${c.status === "resolved" || c.status === "snoozed"
      ? html`<button type="button" onClick=${() => setStatus("open")}>Reopen</button>`
      : html`<button type="button" onClick=${() => setStatus("resolved")}>Resolve</button>`}
    ${c.status !== "resolved" ? html`<${Snooze} />` : null}
    <button type="button" onClick=${markUnread}>Mark unread</button>
    ${manages ? html`<label class="assign">Assign to
      <select value=${c.rep_id || ""} onChange=${(e) => assign(e.target.value ? Number(e.target.value) : null)}>
        <option value="">Nobody</option>
        ${state.reps.map((r) => html`<option value=${r.id}>${r.full_name}</option>`)}
      </select></label>` : null}
    <button type="button" aria-expanded=${state.panel.open ? "true" : "false"} aria-controls="contact-panel"
      onClick=${() => togglePanel()}>Contact details</button>
  </div>`;
}

function Messages({ state }) {
  const box = useRef(null);
  const t = state.thread;
  const before = useRef({ height: 0, top: 0 });
  // Remember where the rep was before the messages change, so older pages keep the view still.
  if (box.current) before.current = { height: box.current.scrollHeight, top: box.current.scrollTop };
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || t.scroll === "keep") return;
    const nearBottom = before.current.height - before.current.top - el.clientHeight < 120;
    if (t.scroll === "bottom" || (t.scroll === "bottom-if-near" && nearBottom)) el.scrollTop = el.scrollHeight;
    else if (t.scroll === "older") {
      el.scrollTop = before.current.top + el.scrollHeight - before.current.height;  // the page went in above: the view stays still
    } else if (t.scroll === "highlight" && t.highlight) {
      const target = el.querySelector(`[data-id="${t.highlight}"]`);
      if (target) { target.scrollIntoView({ block: "center" }); target.focus({ preventScroll: true }); }
    }
    // Done once: later renders (a tick, the typing line, a page loading) leave the view where the rep put it.
    setThread({ scroll: "keep" });
  });
  const items = [];
  let day = null;
  for (const m of t.messages.values()) {
    // Messages stay in the order they were stored; a late one is labelled with the day it was sent.
    const at = messageTime(m);
    const key = at ? dayKey(at) : day;
    if (key !== day) {
      day = key;
      items.push(html`<h2 class="day" key=${`day-${key}-${m.id}`}><span>${dayLabel(at)}</span></h2>`);
    }
    items.push(html`<${Message} key=${m.id} m=${m} highlighted=${m.id === t.highlight} />`);
  }
  // An image or a player's first frame that arrives later grows the thread: a rep at the bottom stays there.
  const atBottom = useRef(true);
  useEffect(() => {
    const el = box.current;
    const grown = () => { if (atBottom.current) el.scrollTop = el.scrollHeight; };
    el.addEventListener("load", grown, true);
    el.addEventListener("loadedmetadata", grown, true);
    return () => { el.removeEventListener("load", grown, true); el.removeEventListener("loadedmetadata", grown, true); };
  }, []);
  // Reaching the top loads the page before it; the button does the same by keyboard.
  const onScroll = (e) => {
    const el = e.currentTarget;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    if (el.scrollTop < 80 && t.older && !t.loadingOlder) loadOlder();
  };
  return html`<div id="thread" class="thread" ref=${box} aria-live="polite" aria-relevant="additions" onScroll=${onScroll}>
    ${t.older ? html`<button type="button" class="link older" onClick=${loadOlder} disabled=${t.loadingOlder}>
      ${t.loadingOlder ? "Loading…" : "Show earlier"}</button>` : null}
    ${items}
  </div>`;
}

function Typing({ state }) {
  if (!state.typing || state.typing.conversationId !== state.current) return html`<p id="typing" class="muted typing" aria-live="polite"></p>`;
  // The server names the typist; the manager's rep list is the fallback for an older frame.
  const rep = state.reps.find((r) => r.id === state.typing.repId);
  const name = state.typing.name || (rep && rep.full_name) || "A teammate";
  return html`<p id="typing" class="muted typing" aria-live="polite">${name} is typing…</p>`;
}

export function Thread({ state }) {
  const c = state.current && state.conversations.get(state.current);
  if (!c) {
    return html`<section id="thread-pane" class="thread-pane empty-pane" aria-label="Conversation">
      <p class="notice">${state.notice || "Pick a conversation on the left."}</p></section>`;
  }
  const channel = channelName(c, state.channels);
  return html`<section id="thread-pane" class="thread-pane" aria-label="Conversation">
    <header class="thread-head">
      <button type="button" class="link back" onClick=${closeThread}>← Conversations</button>
      <h1 id="thread-title">${contactName(c)}</h1>
      <span id="thread-channel" class="muted">${channel}</span>
      <span class=${`chip chip-${c.status}`} id="thread-status">${STATUS_NAMES[c.status] || c.status}${
        c.status === "snoozed" && c.snoozed_until ? ` until ${dateTime(c.snoozed_until)}` : ""}</span>
      <${Actions} state=${state} c=${c} />
    </header>
    ${state.actionError ? html`<p class="error" role="alert">${state.actionError}</p>` : null}
    <${Messages} state=${state} />
    <${Typing} state=${state} />
    <${Composer} state=${state} c=${c} key=${c.id} />
  </section>`;
}
