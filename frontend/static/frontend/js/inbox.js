// The rep inbox: conversation list, thread, composer, live updates, availability and today's capacity.
import { api, el, timeLabel } from "./api.js";
import { InboxSocket } from "./socket.js";

const CHANNEL_ICONS = { whatsapp: "WA", messenger: "FB", instagram: "IG", sms: "SMS", email: "@", service: "API" };
const TICKS = { queued: "🕓", deferred: "⏸", sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠", received: "" };

const state = { me: null, conversations: new Map(), order: [], current: null, messages: new Map(), templates: [], filter: "", search: "" };
const $ = (id) => document.getElementById(id);

async function start() {
  state.me = await api("/api/me/");
  $("me-name").textContent = state.me.rep ? state.me.rep.full_name : state.me.username;
  if (state.me.rep && state.me.rep.role === "manager" || state.me.is_superuser) $("dashboard-link").hidden = false;
  bindControls();
  window.sb = { socket: new InboxSocket({ onEvent, onStatus, onReload: reloadAll }), state };
  await Promise.all([loadConversations(), loadToday(), loadTemplates()]);
}

function onStatus(status) {
  $("offline").hidden = status === "online";
  document.body.dataset.socket = status;
}

async function reloadAll() {
  await loadConversations();
  if (state.current) await openConversation(state.current, { keepScroll: true });
}

// ---- conversation list ----------------------------------------------------------------

async function loadConversations() {
  const params = new URLSearchParams();
  if (state.filter) params.set("status", state.filter);
  if (state.search) params.set("search", state.search);
  const page = await api(`/api/conversations/?${params}`);
  state.conversations = new Map(page.results.map((c) => [c.id, c]));
  state.order = page.results.map((c) => c.id);
  renderList();
}

function renderList() {
  const list = $("conversations");
  list.replaceChildren(...state.order.map((id) => conversationItem(state.conversations.get(id))));
  if (!state.order.length) list.append(el("li", { class: "empty", text: "No conversations yet." }));
}

function conversationItem(c) {
  const name = c.contact_name || (c.contact && c.contact.name) || `Contact ${c.contact_id}`;
  return el("li", {},
    el("button", { class: "conversation" + (c.id === state.current ? " active" : ""), "data-id": c.id, type: "button",
                   "aria-label": `Conversation with ${name}`, onclick: () => openConversation(c.id) },
      el("span", { class: `channel channel-${c.channel_kind}`, title: c.channel_kind, text: CHANNEL_ICONS[c.channel_kind] || "?" }),
      el("span", { class: "who" }, el("strong", { class: "name", text: name }),
         el("span", { class: "preview", text: c.last_message_preview || "" })),
      el("span", { class: "meta" }, el("time", { text: timeLabel(c.last_message_at) }),
         c.unread_count ? el("span", { class: "badge", "aria-label": `${c.unread_count} unread`, text: c.unread_count }) : null)));
}

// `render: false` lets a batch (conversations.changed) sort and render the list once at its end.
function upsertConversation(data, { render = true } = {}) {
  const previous = state.conversations.get(data.id) || {};
  const merged = { ...previous, ...data };
  if (state.me.rep && state.me.rep.role === "rep" && !state.me.is_superuser && merged.rep_id !== state.me.rep.id) {
    if (!state.conversations.has(data.id)) return;
    state.conversations.delete(data.id);  // reassigned away: gone at once
    state.order = state.order.filter((id) => id !== data.id);
    if (state.current === data.id) closeThread("This conversation was reassigned.");
    if (render) renderList();
    return;
  }
  if (state.filter && merged.status !== state.filter) return;
  state.conversations.set(data.id, merged);
  state.order = [data.id, ...state.order.filter((id) => id !== data.id)];
  if (render) { sortList(); renderList(); }
}

function sortList() {
  state.order.sort((a, b) => (state.conversations.get(b).last_message_at || "").localeCompare(state.conversations.get(a).last_message_at || ""));
}

// A conversation an event names that the list does not have (a bulk change of messages in a
// conversation loaded by no page yet) is fetched, each id once and a few at a time. Past
// MAX_FETCHES waiting, the burst is answered by one fresh first page merged once it settles: a bulk
// change over thousands of old conversations must not become thousands of requests.
const MAX_FETCHES = 50;
const missing = { queue: [], asked: new Set(), active: 0, overflow: false, timer: null };

function wantConversation(id) {
  if (state.conversations.has(id) || missing.asked.has(id)) return;
  missing.asked.add(id);
  if (missing.overflow || missing.queue.length >= MAX_FETCHES) {
    missing.queue.length = 0;
    missing.overflow = true;
    clearTimeout(missing.timer);
    missing.timer = setTimeout(() => { missing.overflow = false; mergeFirstPage().catch(() => {}); }, 500);
    return;
  }
  missing.queue.push(id);
  pumpFetches();
}

function pumpFetches() {
  while (missing.active < 4 && missing.queue.length) {
    const id = missing.queue.shift();
    missing.active++;
    api(`/api/conversations/${id}/`).then((c) => upsertConversation(c))
      .catch(() => {})  // out of scope by now (404): nothing to show
      .finally(() => { missing.active--; pumpFetches(); });
  }
}

async function mergeFirstPage() {
  const params = new URLSearchParams();
  if (state.filter) params.set("status", state.filter);
  if (state.search) params.set("search", state.search);
  const page = await api(`/api/conversations/?${params}`);
  for (const c of page.results) upsertConversation(c, { render: false });
  sortList();
  renderList();
}

// Messages of the open thread that an event names but the thread does not hold (planned by a
// campaign): one fetch of the thread's latest page, however many events ask for it meanwhile.
let threadFetch = null;

function fetchThreadMessages(conversationId) {
  if (threadFetch) { threadFetch.again = true; return; }
  threadFetch = { again: false };
  api(`/api/conversations/${conversationId}/messages/`).then((page) => {
    if (state.current !== conversationId) return;
    for (const m of page.results) state.messages.set(m.id, { ...(state.messages.get(m.id) || {}), ...m });
    state.messages = new Map([...state.messages.entries()].sort((a, b) => (a[1].created_at || "").localeCompare(b[1].created_at || "") || a[0] - b[0]));
    renderThread(false);
  }).catch(() => {}).finally(() => {
    const again = threadFetch.again;
    threadFetch = null;
    if (again && state.current === conversationId) fetchThreadMessages(conversationId);
  });
}

// ---- thread -----------------------------------------------------------------------------

async function openConversation(id, { keepScroll = false } = {}) {
  state.current = id;
  const conversation = state.conversations.get(id) || await api(`/api/conversations/${id}/`);
  state.conversations.set(id, { ...conversation, ...state.conversations.get(id) });
  const page = await api(`/api/conversations/${id}/messages/`);
  state.messages = new Map(page.results.reverse().map((m) => [m.id, m]));
  $("thread-pane").hidden = false;
  $("thread-title").textContent = conversation.contact_name || (conversation.contact && conversation.contact.name) || "";
  $("thread-channel").textContent = conversation.channel_kind;
  renderThread(!keepScroll);
  renderWindowHint();
  renderList();
  if (conversation.unread_count) window.sb.socket.send({ action: "mark_read", conversation_id: id });
  $("composer-text").focus();
}

function closeThread(reason) {
  state.current = null;
  $("thread").replaceChildren(el("p", { class: "notice", text: reason }));
  $("composer").hidden = true;
}

function renderThread(scroll = true) {
  const thread = $("thread");
  thread.replaceChildren(...[...state.messages.values()].map(bubble));
  $("composer").hidden = false;
  if (scroll) thread.scrollTop = thread.scrollHeight;
}

function bubble(m) {
  const outbound = m.direction === "out";
  const reason = m.status === "failed" ? (m.error_title || m.error_code) : (m.status === "deferred" ? m.defer_reason : "");
  return el("div", { class: `bubble ${outbound ? "out" : "in"} status-${m.status}`, "data-id": m.id, "data-status": m.status },
    m.media_url ? el("span", { class: "media", text: `[${m.media_type || "attachment"}]` }) : null,
    el("p", { class: "body", text: m.body }),
    el("span", { class: "meta" }, el("time", { text: timeLabel(m.created_at) }),
      outbound ? el("span", { class: "tick", title: m.status, "aria-label": `status ${m.status}`, text: TICKS[m.status] || "" }) : null),
    reason ? el("span", { class: "reason", role: m.status === "failed" ? "alert" : "status", text: reason }) : null);
}

function renderWindowHint() {
  const conversation = state.conversations.get(state.current);
  const closed = conversation && conversation.channel_kind === "whatsapp" &&
    (!conversation.last_inbound_at || Date.now() - Date.parse(conversation.last_inbound_at) > 24 * 3600 * 1000);
  $("window-hint").hidden = !closed;
}

// ---- live events ------------------------------------------------------------------------

let typingTimer = null;
let todayTimer = null;

function refreshToday() {
  clearTimeout(todayTimer);
  todayTimer = setTimeout(loadToday, 300);
}

function onEvent(frame) {
  const { event, data } = frame;
  if (event === "message.updated" && data.direction === "out" && data.status === "sent") refreshToday();
  if (event === "message.created" || event === "message.updated") {
    if (data.conversation_id === state.current) {
      state.messages.set(data.id, { ...(state.messages.get(data.id) || {}), ...data });
      renderThread(event === "message.created");
      if (event === "message.created" && data.direction === "in") window.sb.socket.send({ action: "mark_read", conversation_id: data.conversation_id });
    }
  } else if (event === "messages.changed") {
    // a bulk change (campaign planned, paused, resumed, cancelled; sequence stopped): one event per conversation
    wantConversation(data.conversation_id);
    if (data.conversation_id === state.current) {
      let unknown = false;
      for (const change of data.messages) {
        if (state.messages.has(change.id)) state.messages.set(change.id, { ...state.messages.get(change.id), ...change });
        else unknown = true;  // only its state is here: body and time come from the API
      }
      renderThread(false);
      if (unknown) fetchThreadMessages(data.conversation_id);
    }
  } else if (event === "conversations.changed") {
    // conversations opened or assigned in bulk (a campaign planned): a batch, rendered once
    for (const c of data.conversations) upsertConversation(c, { render: false });
    sortList();
    renderList();
    if (data.conversations.some((c) => c.id === state.current)) renderWindowHint();
  } else if (event === "conversation.created" || event === "conversation.updated") {
    upsertConversation(data);
    if (data.id === state.current) renderWindowHint();
  } else if (event === "conversation.assigned") {
    upsertConversation(data.conversation);
  } else if (event === "typing" && data.conversation_id === state.current) {
    $("typing").hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { $("typing").hidden = true; }, 3000);
  } else if (event === "rep.presence" && state.me.rep && data.rep_id === state.me.rep.id) {
    $("availability").checked = data.available;
  }
}

// ---- composer, templates, availability, today ---------------------------------------------

async function loadTemplates() {
  const page = await api("/api/templates/");
  state.templates = page.results || page;
  $("template").replaceChildren(el("option", { value: "", text: "Free text" }),
    ...state.templates.map((t) => el("option", { value: t.id, text: t.name })));
}

function templateVariables() {
  const values = {};
  for (const input of $("variables").querySelectorAll("input")) values[input.name] = input.value;
  return values;
}

async function pickTemplate() {
  const template = state.templates.find((t) => String(t.id) === $("template").value);
  $("variables").replaceChildren(...(template ? template.variables : []).map((name) =>
    el("label", {}, name, el("input", { name, oninput: previewTemplate }))));
  $("composer-text").disabled = Boolean(template);
  await previewTemplate();
}

async function previewTemplate() {
  const id = $("template").value;
  if (!id) { $("preview").textContent = ""; return; }
  const preview = await api(`/api/templates/${id}/preview/`, { method: "POST", body: { variables: templateVariables() } });
  $("preview").textContent = preview.missing.length ? `Missing: ${preview.missing.join(", ")}` : preview.text;
}

// One Idempotency-Key per composed message until the server acknowledges it: sending the same
// message again after a lost answer (network drop, 5xx) is the same request, never a second message.
function composeKey(body) {
  const fingerprint = `${state.current}:${JSON.stringify(body)}`;
  if (!state.compose || state.compose.fingerprint !== fingerprint) {
    state.compose = { fingerprint, key: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random() };
  }
  return state.compose.key;
}

async function send() {
  const text = $("composer-text").value.trim();
  const templateId = $("template").value;
  if (!state.current || (!text && !templateId)) return;
  const body = templateId ? { template_id: Number(templateId), variables: templateVariables() } : { text };
  const key = composeKey(body);
  try {
    const message = await api(`/api/conversations/${state.current}/messages/`, { method: "POST", body, headers: { "Idempotency-Key": key } });
    state.compose = null;  // acknowledged: the next message gets a key of its own
    state.messages.set(message.id, { ...message, ...(state.messages.get(message.id) || {}) });
    $("composer-text").value = "";
    $("composer-error").textContent = "";
    renderThread();
  } catch (error) {
    $("composer-error").textContent = error.message;
  }
}

async function loadToday() {
  if (!state.me.rep) return;
  const me = await api("/api/reps/me/");
  $("availability").checked = me.is_available;
  const rows = [];
  for (const channel of me.today.channels) {
    for (const activity of channel.activities) {
      const next = activity.next_opening && !activity.open_now ? ` · opens ${new Date(activity.next_opening).toLocaleString()}` : "";
      rows.push(el("li", {}, el("strong", { text: `${channel.channel} · ${activity.activity}` }),
        ` ${activity.used} / ${activity.allowance}${next}`));
    }
  }
  $("today").replaceChildren(...rows);
}

function bindControls() {
  let typingSent = 0;
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); send(); }
  });
  $("composer-text").addEventListener("input", () => {
    if (state.current && Date.now() - typingSent > 2000) {
      typingSent = Date.now();
      window.sb.socket.send({ action: "typing", conversation_id: state.current });
    }
  });
  $("send").addEventListener("click", send);
  $("template").addEventListener("change", pickTemplate);
  $("status-filter").addEventListener("change", (e) => { state.filter = e.target.value; loadConversations(); });
  let searchTimer;
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = e.target.value.trim(); loadConversations(); }, 250);
  });
  $("availability").addEventListener("change", async (e) => {
    await api("/api/reps/me/", { method: "PATCH", body: { is_available: e.target.checked } });
    await loadToday();
  });
  $("reconnect").addEventListener("click", () => window.sb.socket.drop());
}

start().catch((error) => {
  document.getElementById("fatal").textContent = `Could not load the inbox: ${error.message}`;
});
