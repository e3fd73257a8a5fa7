// One message bubble: body, attachment (through the app's proxy), time, state with its reason, Retry.
import { html } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { TICKS, clock, messageState, messageTime } from "./format.js";
import { retry } from "./thread.js";

const mediaUrl = (m) => `/api/messages/${m.id}/media/`;  // never the platform's URL: the app fetches it

function Attachment({ m }) {
  if (m.kind === "location" || (m.latitude !== null && m.latitude !== undefined)) {
    if (m.latitude === null || m.latitude === undefined) return null;
    return html`<p class="location">Location: <span class="coords">${m.latitude.toFixed(5)}, ${m.longitude.toFixed(5)}</span></p>`;
  }
  if (!m.media_url) return null;
  const type = m.media_type || "";
  if (type === "image" || type === "sticker") {
    return html`<a class="media" href=${mediaUrl(m)} target="_blank" rel="noopener">
      <img src=${mediaUrl(m)} alt=${m.body ? `Image: ${m.body}` : "Image sent in the conversation"} loading="lazy" /></a>`;
  }
  // Players load only the file's start (its length, a first frame), through the same proxy.
  if (type === "audio" || type === "voice") {
    return html`<audio class="media" controls preload="metadata" src=${mediaUrl(m)} aria-label=${m.body ? `Audio: ${m.body}` : "Audio message"}>
      <a href=${mediaUrl(m)} download>Download the audio</a></audio>`;
  }
  if (type === "video") {
    return html`<video class="media" controls preload="metadata" playsinline src=${mediaUrl(m)} aria-label=${m.body ? `Video: ${m.body}` : "Video message"}>
      <a href=${mediaUrl(m)} download>Download the video</a></video>`;
  }
  const name = m.media_filename ? m.media_filename : `the ${type || "attachment"}`;
  return html`<a class="media document" href=${mediaUrl(m)} download=${m.media_filename || ""}>Download ${name}</a>`;
}

export function Message({ m, highlighted }) {
  const outbound = m.direction === "out";
  const s = messageState(m);
  const showBody = m.body && !(m.kind === "location" && !m.body);
  return html`<div class=${`bubble ${outbound ? "out" : "in"} status-${m.status}${highlighted ? " highlight" : ""}`}
      data-id=${m.id} data-status=${m.status} tabindex=${highlighted ? "-1" : undefined}>
    <${Attachment} m=${m} />
    ${showBody ? html`<p class="body">${m.body}</p>` : (m.media_url || m.kind === "location" ? null : html`<p class="body"></p>`)}
    <span class="meta"><time datetime=${messageTime(m)}>${clock(messageTime(m))}</time>
      ${outbound ? html`<span class="tick" aria-hidden="true">${TICKS[m.status] || ""}</span><span class="state">${s.label}</span>` : null}</span>
    ${s.reason ? html`<span class="reason" role=${m.status === "failed" ? "alert" : undefined}>${s.reason}</span>` : null}
    ${s.retry ? html`<button type="button" class="retry" onClick=${() => retry(m.id)}>Retry</button>` : null}
  </div>`;
}
