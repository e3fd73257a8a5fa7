// The conversation list: filters, cursor pages, live upserts, the unread counts in the title.
import { api } from "../api.js";
import { state, update } from "./store.js";

function listQuery() {
  const params = new URLSearchParams();
  const f = state.filters;
  if (f.status) params.set("status", f.status);
  if (f.channel) params.set("channel", f.channel);
  if (f.unread) params.set("unread", "true");
  if (f.search) params.set("search", f.search);
  return params;
}

let listRequest = 0;

export async function loadConversations() {
  const mine = ++listRequest;
  const page = await api(`/api/conversations/?${listQuery()}`);
  if (mine !== listRequest) return;  // the filters changed meanwhile: a later answer wins
  update({ conversations: new Map(page.results.map((c) => [c.id, c])), order: page.results.map((c) => c.id), next: page.next });
}

export async function loadMore() {
  if (!state.next || state.loadingMore) return;
  const mine = listRequest;
  update({ loadingMore: true });
  try {
    const url = new URL(state.next);
    const page = await api(url.pathname + url.search);
    if (mine !== listRequest) return;
    const conversations = new Map(state.conversations);
    const order = [...state.order];
    for (const c of page.results) {
      if (!conversations.has(c.id)) order.push(c.id);
      conversations.set(c.id, { ...c, ...(conversations.get(c.id) || {}) });
    }
    update({ conversations, order, next: page.next });
  } finally {
    update({ loadingMore: false });
  }
}

export function setFilters(patch) {
  update({ filters: { ...state.filters, ...patch } });
  return loadConversations();
}

function matchesFilters(c) {
  const f = state.filters;
  if (f.status && c.status !== f.status) return false;
  if (f.channel && String(c.channel_id) !== String(f.channel)) return false;
  if (f.unread && !c.unread_count && c.id !== state.current) return false;
  return true;
}

function sortOrder(order, conversations) {
  return order.sort((a, b) => (conversations.get(b).last_message_at || "").localeCompare(conversations.get(a).last_message_at || "") || b - a);
}

// Merges conversations as events or fetches give them. A rep whose conversation went to someone
// else stops showing it at once; one that no longer matches the filters leaves the list.
export function upsertConversations(items) {
  const conversations = new Map(state.conversations);
  let order = [...state.order];
  const me = state.me;
  const onlyMine = me.rep && me.rep.role === "rep" && !me.is_superuser;
  let current = state.current, notice = state.notice;
  for (const data of items) {
    const merged = { ...(conversations.get(data.id) || {}), ...data };
    const reassigned = onlyMine && merged.rep_id !== me.rep.id;
    if (reassigned || (!matchesFilters(merged) && data.id !== current)) {
      conversations.delete(data.id);
      order = order.filter((id) => id !== data.id);
      if (reassigned && data.id === current) {
        current = null;
        notice = "This conversation was reassigned.";
      }
      continue;
    }
    if (!order.includes(data.id)) order.push(data.id);
    conversations.set(data.id, merged);
  }
  update({ conversations, order: sortOrder(order, conversations), current, notice });
  refreshCounts();
}

// A conversation an event names that the list does not have (a bulk change of messages in a
// conversation loaded by no page yet) is fetched, each id once and a few at a time. Past
// MAX_FETCHES waiting, the burst is answered by one fresh first page merged once it settles: a bulk
// change over thousands of old conversations must not become thousands of requests.
const MAX_FETCHES = 50;
const missing = { queue: [], asked: new Set(), active: 0, overflow: false, timer: null };

export function wantConversation(id) {
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
    api(`/api/conversations/${id}/`).then((c) => upsertConversations([c]))
      .catch(() => {})  // out of scope by now (404): nothing to show
      .finally(() => { missing.active--; pumpFetches(); });
  }
}

async function mergeFirstPage() {
  const page = await api(`/api/conversations/?${listQuery()}`);
  upsertConversations(page.results);
}

// ---- counts: the page title and the status filter ------------------------------------------------

let countsTimer = null;

export function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(loadCounts, 250);
}

export async function loadCounts() {
  const counts = await api("/api/conversations/counts/");
  update({ counts });
  document.title = counts.unread_conversations ? `(${counts.unread_conversations}) Inbox · Switchboard` : "Inbox · Switchboard";
}
