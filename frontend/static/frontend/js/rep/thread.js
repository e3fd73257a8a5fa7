// The open conversation: its messages (newest page first, older pages on demand), jumping to a
// found message, and what the rep does to it (send, retry, resolve, snooze, reopen, unread, assign).
import { api } from "../api.js";
import { loadCounts, upsertConversations } from "./list.js";
import { setThread, state, update } from "./store.js";

const byTime = (a, b) => (a.created_at || "").localeCompare(b.created_at || "") || a.id - b.id;

function sorted(messages) {
  return new Map([...messages.values()].sort(byTime).map((m) => [m.id, m]));
}

function pagePath(next) {
  const url = new URL(next);
  return url.pathname + url.search;
}

let opening = 0;

export async function openConversation(id, { keepScroll = false } = {}) {
  const mine = ++opening;
  const switching = state.current !== id;
  update({ current: id, notice: "", actionError: "" });
  if (switching) {
    setThread({ messages: new Map(), older: null, highlight: null, scroll: "bottom" });
    update({ panel: { ...state.panel, contactId: null, contact: null, campaigns: null, channels: null, error: "" } });
    if (state.timeline.contactId !== (state.conversations.get(id) || {}).contact_id) {
      update({ timeline: { contactId: null, messages: new Map(), next: null, loading: false, error: "" } });
    }
  }
  const [conversation, page] = await Promise.all([
    api(`/api/conversations/${id}/`), api(`/api/conversations/${id}/messages/`)]);
  if (mine !== opening) return;
  update({ conversations: new Map(state.conversations).set(id, { ...state.conversations.get(id), ...conversation }) });
  if (!state.order.includes(id)) upsertConversations([conversation]);
  const messages = switching ? new Map() : new Map(state.thread.messages);
  for (const m of page.results) messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
  setThread({ messages: sorted(messages), older: switching ? page.next : state.thread.older, scroll: keepScroll ? "keep" : "bottom" });
  if (state.panel.open) loadPanel();
  if (conversation.unread_count) window.sb.socket.send({ action: "mark_read", conversation_id: id });
}

// The open conversation's detail again (its 24-hour window moves when the person writes), one
// request at a time however many events ask.
let detailFetch = null;

export function refreshCurrent() {
  const id = state.current;
  if (!id) return;
  if (detailFetch) { detailFetch.again = true; return; }
  detailFetch = { again: false };
  api(`/api/conversations/${id}/`).then((conversation) => {
    if (state.current === id) upsertConversations([conversation]);
  }).catch(() => {}).finally(() => {
    const again = detailFetch.again;
    detailFetch = null;
    if (again) refreshCurrent();
  });
}

export function closeThread() {
  update({ current: null, notice: "" });
}

export async function loadOlder() {
  const t = state.thread;
  if (!t.older || t.loadingOlder) return false;
  const conversationId = state.current;
  setThread({ loadingOlder: true });
  try {
    const page = await api(pagePath(t.older));
    if (state.current !== conversationId) return false;
    const messages = new Map(state.thread.messages);
    for (const m of page.results) if (!messages.has(m.id)) messages.set(m.id, m);
    setThread({ messages: sorted(messages), older: page.next, scroll: "older" });
    return true;
  } finally {
    setThread({ loadingOlder: false });
  }
}

// Opens the message's conversation and pages back until the message is loaded, then shows it.
export async function jumpTo(conversationId, messageId) {
  if (state.current !== conversationId) await openConversation(conversationId);
  for (let pages = 0; !state.thread.messages.has(messageId) && state.thread.older && pages < 100; pages++) {
    await loadOlder();
  }
  setThread({ highlight: messageId, scroll: "highlight" });
}

export function upsertMessage(m, { created = false } = {}) {
  if (m.conversation_id !== state.current) return;
  const messages = new Map(state.thread.messages);
  messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
  setThread({ messages: created ? sorted(messages) : messages, scroll: created ? "bottom-if-near" : "keep" });
}

// A bulk change names messages of the open thread; those it does not hold (planned by a campaign)
// come with one fetch of the latest page, however many events ask for it meanwhile.
let threadFetch = null;

export function applyChanges(conversationId, changes) {
  if (conversationId !== state.current) return;
  const messages = new Map(state.thread.messages);
  let unknown = false;
  for (const change of changes) {
    if (messages.has(change.id)) messages.set(change.id, { ...messages.get(change.id), ...change });
    else unknown = true;  // only its state is here: body and time come from the API
  }
  setThread({ messages, scroll: "keep" });
  if (unknown) fetchLatest(conversationId);
}

function fetchLatest(conversationId) {
  if (threadFetch) { threadFetch.again = true; return; }
  threadFetch = { again: false };
  api(`/api/conversations/${conversationId}/messages/`).then((page) => {
    if (state.current !== conversationId) return;
    const messages = new Map(state.thread.messages);
    for (const m of page.results) messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
    setThread({ messages: sorted(messages), scroll: "keep" });
  }).catch(() => {}).finally(() => {
    const again = threadFetch.again;
    threadFetch = null;
    if (again && state.current === conversationId) fetchLatest(conversationId);
  });
}

// ---- what the rep does -----------------------------------------------------------------------------

export async function compose(conversationId, body, key) {
  const message = await api(`/api/conversations/${conversationId}/messages/`, { method: "POST", body, headers: { "Idempotency-Key": key } });
  upsertMessage(message, { created: true });
  if (state.current === conversationId) setThread({ scroll: "bottom" });
  return message;
}

async function act(run) {
  update({ actionError: "" });
  try {
    return await run();
  } catch (error) {
    update({ actionError: error.message });
    return null;
  }
}

export function retry(messageId) {
  return act(async () => upsertMessage(await api(`/api/messages/${messageId}/retry/`, { method: "POST" })));
}

export function setStatus(status, snoozedUntil = null) {
  const id = state.current;
  const body = status === "snoozed" ? { status, snoozed_until: snoozedUntil } : { status };
  return act(async () => {
    upsertConversations([await api(`/api/conversations/${id}/status/`, { method: "POST", body })]);
    loadCounts();
  });
}

export function markUnread() {
  const id = state.current;
  return act(async () => {
    const conversation = await api(`/api/conversations/${id}/unread/`, { method: "POST" });
    closeThread();  // left for later: staying open would read it again
    upsertConversations([conversation]);
    loadCounts();
  });
}

export function assign(repId) {
  const id = state.current;
  return act(async () => upsertConversations([await api(`/api/conversations/${id}/assign/`, { method: "POST", body: { rep_id: repId } })]));
}

// ---- the contact panel -------------------------------------------------------------------------------

export async function loadPanel() {
  const conversation = state.conversations.get(state.current);
  if (!conversation) return;
  const contactId = conversation.contact_id;
  loadTimeline(contactId);
  try {
    const [contact, campaigns, detail] = await Promise.all([
      api(`/api/contacts/${contactId}/`), api(`/api/contacts/${contactId}/campaigns/`), api(`/api/conversations/${conversation.id}/`)]);
    if (state.current !== conversation.id) return;
    update({ panel: { ...state.panel, contactId, contact, campaigns, channels: detail.contact_channels, error: "" } });
  } catch (error) {
    update({ panel: { ...state.panel, error: error.message } });
  }
}

// ---- the person's timeline: every channel, as far as the server lets this user see -------------------

function setTimeline(patch) {
  update({ timeline: { ...state.timeline, ...patch } });
}

const sortedTimeline = (messages) => new Map([...messages.values()].sort(byTime).map((m) => [m.id, m]));

// The latest page (again, merged into what is loaded: older pages the rep opened stay).
export async function loadTimeline(contactId) {
  const same = state.timeline.contactId === contactId;
  setTimeline(same ? { loading: true, error: "" } : { contactId, messages: new Map(), next: null, loading: true, error: "" });
  try {
    const page = await api(`/api/contacts/${contactId}/timeline/`);
    if (state.timeline.contactId !== contactId) return;
    const messages = new Map(state.timeline.messages);
    for (const m of page.results) messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
    setTimeline({ messages: sortedTimeline(messages), next: same && state.timeline.messages.size ? state.timeline.next : page.next,
                  loading: false });
  } catch (error) {
    if (state.timeline.contactId === contactId) setTimeline({ loading: false, error: error.message });
  }
}

export async function loadTimelineOlder() {
  const t = state.timeline;
  if (!t.next || t.loading) return;
  setTimeline({ loading: true, error: "" });
  try {
    const page = await api(pagePath(t.next));
    if (state.timeline.contactId !== t.contactId) return;
    const messages = new Map(state.timeline.messages);
    for (const m of page.results) if (!messages.has(m.id)) messages.set(m.id, m);
    setTimeline({ messages: sortedTimeline(messages), next: page.next, loading: false });
  } catch (error) {
    setTimeline({ loading: false, error: error.message });
  }
}

// A message event of the person whose timeline is shown, on any of their conversations.
export function upsertTimeline(m) {
  const t = state.timeline;
  const conversation = state.conversations.get(m.conversation_id);
  if (!t.contactId || !conversation || conversation.contact_id !== t.contactId) return;
  const messages = new Map(t.messages);
  const known = messages.has(m.id);
  messages.set(m.id, { ...(messages.get(m.id) || {}), ...m });
  setTimeline({ messages: known ? messages : sortedTimeline(messages) });
}

export function togglePanel(open = !state.panel.open) {
  update({ panel: { ...state.panel, open } });
  if (open) loadPanel();
}

// ---- message search ----------------------------------------------------------------------------------

export async function searchMessages(q) {
  update({ search: { ...state.search, open: true, q, results: [], next: null, loading: true, error: "" } });
  try {
    const page = await api(`/api/messages/search/?${new URLSearchParams({ q })}`);
    update({ search: { ...state.search, results: page.results, next: page.next, loading: false } });
  } catch (error) {
    update({ search: { ...state.search, loading: false, error: error.message } });
  }
}

export async function moreResults() {
  if (!state.search.next) return;
  const page = await api(pagePath(state.search.next));
  update({ search: { ...state.search, results: [...state.search.results, ...page.results], next: page.next } });
}

export function closeSearch() {
  update({ search: { ...state.search, open: false } });
}
