// Search across the rep's conversations (full text) and jump to a found message.
import { html, useState } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { contactName, dateTime, messageTime } from "./format.js";
import { wantConversation } from "./list.js";
import { closeSearch, jumpTo, moreResults, searchMessages } from "./thread.js";

export function SearchForm({ state }) {
  const [q, setQ] = useState(state.search.q);
  const submit = (e) => { e.preventDefault(); if (q.trim()) searchMessages(q.trim()); };
  return html`<form class="history-search" role="search" onSubmit=${submit}>
    <label for="history-q" class="sr-only">Search conversation history</label>
    <input id="history-q" type="search" placeholder="Search what was written" value=${q} onInput=${(e) => setQ(e.target.value)} />
    <button type="submit">Find</button>
  </form>`;
}

export function SearchResults({ state }) {
  const s = state.search;
  return html`<section class="search-results" aria-labelledby="search-heading">
    <div class="search-head"><h2 id="search-heading">Found for “${s.q}”</h2>
      <button type="button" class="link" onClick=${closeSearch}>Back to conversations</button></div>
    ${s.loading ? html`<p class="muted">Searching…</p>` : null}
    ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : null}
    ${!s.loading && !s.error && !s.results.length ? html`<p class="empty">Nothing found.</p>` : null}
    <ul class="result-list">
      ${s.results.map((m) => {
        const c = state.conversations.get(m.conversation_id);
        if (!c) wantConversation(m.conversation_id);
        return html`<li key=${m.id}><button type="button" class="result" data-message=${m.id}
          onClick=${() => { closeSearch(); jumpTo(m.conversation_id, m.id); }}>
          <span class="result-who">${c ? contactName(c) : `Conversation ${m.conversation_id}`} · <time>${dateTime(messageTime(m))}</time></span>
          <span class="result-body">${m.body || `[${m.media_type || m.kind}]`}</span></button></li>`;
      })}
    </ul>
    ${s.next ? html`<button type="button" class="link" onClick=${moreResults}>More results</button>` : null}
  </section>`;
}
