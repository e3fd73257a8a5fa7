// The left column: today's capacity, filters, the conversation list with cursor paging, message search.
import { html, useEffect, useRef } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { CHANNEL_ICONS, STATUS_NAMES, channelName, contactName, timeLabel } from "./format.js";
import { loadMore, setFilters } from "./list.js";
import { SearchResults, SearchForm } from "./Search.js";
import { openConversation } from "./thread.js";

function Today({ today }) {
  if (!today) return null;
  const rows = today.today.channels.flatMap((channel) => channel.activities.map((a) => ({ channel, a })));
  if (!rows.length) return null;
  return html`<section class="today" aria-label="Today's capacity"><h2>Today</h2><ul id="today">
    ${rows.map(({ channel, a }) => html`<li key=${a.rep_channel_activity_id}>
      <strong>${channel.channel} · ${a.activity}</strong> ${a.used} / ${a.allowance}
      ${a.next_opening && !a.open_now ? html` · opens ${new Date(a.next_opening).toLocaleString()}` : null}</li>`)}
  </ul></section>`;
}

let searchTimer = null;

function Filters({ state }) {
  const f = state.filters, byStatus = state.counts.by_status || {};
  return html`<div class="filters">
    <label for="search" class="sr-only">Search conversations</label>
    <input id="search" type="search" placeholder="Search name, phone, e-mail" value=${f.search}
      onInput=${(e) => { clearTimeout(searchTimer); const v = e.target.value.trim(); searchTimer = setTimeout(() => setFilters({ search: v }), 250); }} />
    <div class="filter-row">
      <label for="status-filter" class="sr-only">Status</label>
      <select id="status-filter" value=${f.status} onChange=${(e) => setFilters({ status: e.target.value })}>
        <option value="">All</option>
        ${Object.entries(STATUS_NAMES).map(([value, name]) => html`<option value=${value}>${name}${byStatus[value] !== undefined ? ` (${byStatus[value]})` : ""}</option>`)}
      </select>
      <label for="channel-filter" class="sr-only">Channel</label>
      <select id="channel-filter" value=${f.channel} onChange=${(e) => setFilters({ channel: e.target.value })}>
        <option value="">Every channel</option>
        ${state.channels.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
      </select>
      <label class="check"><input type="checkbox" id="unread-filter" checked=${f.unread}
        onChange=${(e) => setFilters({ unread: e.target.checked })} /> Unread</label>
    </div>
  </div>`;
}

function Item({ c, active, channels }) {
  const name = contactName(c);
  const channel = channelName(c, channels);
  return html`<li>
    <button type="button" class=${"conversation" + (active ? " active" : "")} data-id=${c.id}
      aria-current=${active ? "true" : undefined} aria-describedby=${`preview-${c.id}`} onClick=${() => openConversation(c.id)}>
      <span class=${`channel channel-${c.channel_kind}`} title=${channel} aria-hidden="true">${CHANNEL_ICONS[c.channel_kind] || "?"}</span>
      <span class="who"><span class="sr-only">Conversation with </span><strong class="name">${name}</strong><span class="sr-only"> on ${channel}, </span>
        <span class="preview" id=${`preview-${c.id}`} aria-hidden="true">${c.last_message_preview || ""}</span></span>
      <span class="meta"><time>${timeLabel(c.last_message_at)}</time>
        ${c.status !== "open" ? html`<span class=${`chip chip-${c.status}`}>${STATUS_NAMES[c.status] || c.status}</span>` : null}
        ${c.unread_count ? html`<span class="badge">${c.unread_count}</span><span class="sr-only"> unread</span>` : null}</span>
    </button></li>`;
}

// The last item asks for the next page when it scrolls into view; a button does the same by keyboard.
function More({ state }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || !state.next) return undefined;
    const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [state.next]);
  if (!state.next) return null;
  return html`<li class="more" ref=${ref}><button type="button" class="link" onClick=${loadMore} disabled=${state.loadingMore}>
    ${state.loadingMore ? "Loading…" : "Load more conversations"}</button></li>`;
}

export function Sidebar({ state }) {
  return html`<aside class="sidebar" aria-label="Conversations">
    <${Today} today=${state.today} />
    <${SearchForm} state=${state} />
    ${state.search.open ? html`<${SearchResults} state=${state} />` : html`
      <${Filters} state=${state} />
      <ul id="conversations" class="conversation-list">
        ${state.order.map((id) => html`<${Item} key=${id} c=${state.conversations.get(id)} active=${id === state.current} channels=${state.channels} />`)}
        ${state.order.length ? null : html`<li class="empty">No conversations here.</li>`}
        <${More} state=${state} />
      </ul>`}
  </aside>`;
}
