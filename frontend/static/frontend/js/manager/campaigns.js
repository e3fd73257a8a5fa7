// Campaigns: the list, and one campaign's page — start, pause, resume, cancel; live progress
// (planned, sent, delivered, read, replied, failed, skipped with reasons), the funnel, per-rep
// figures and the recipients page by page, each with why it waits or was skipped. The socket's
// `campaign.progress` frames carry the figures themselves: they are applied as they come, and
// the recipients page and per-rep figures are re-read (throttled) behind them.
import { html, useState, useEffect, useMemo, api, errorText, Notice, useLoad, useLive, throttle, when } from "./ui.js";
import { CampaignFunnel } from "./insights.js";

// What a `campaign.progress` frame replaces in the figures read over REST (/stats/).
const PROGRESS_KEYS = ["status", "recipients", "by_state", "progress", "reasons", "replied", "next_send_at"];
const pick = (obj, keys) => Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));
const PAGE = 20;
const wall = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "–");

export function CampaignList() {
  const [page, error] = useLoad(() => api("/api/campaigns/?limit=100"), []);
  return html`<section class="mc-card" aria-labelledby="campaigns-title">
    <div class="mc-row mc-spread"><h2 id="campaigns-title">Campaigns</h2><a class="mc-button" href="#campaigns/new">New campaign</a></div>
    <${Notice} message=${error} kind="error" />
    ${page === null ? html`<p class="mc-muted">Loading…</p>` : page.results.length === 0 ? html`<p>No campaign yet: build the first one.</p>` : html`
    <div class="mc-scroll"><table class="mc-table" id="campaign-list">
      <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Window (contact's time)</th><th scope="col">Created</th></tr></thead>
      <tbody>${page.results.map((c) => html`<tr key=${c.id}><td><a href=${`#campaigns/${c.id}`}>${c.name}</a></td>
        <td><span class=${`mc-chip mc-status-${c.status}`}>${c.status}</span></td><td>${wall(c.start_at)} → ${wall(c.end_at)}</td>
        <td>${when(c.created_at)}</td></tr>`)}</tbody></table></div>`}
  </section>`;
}

const TILES = ["planned", "waiting", "sent", "delivered", "read", "replied", "failed", "skipped", "cancelled"];

function Progress({ stats, source }) {
  const tiles = TILES.map((name) => [name, stats.progress[name] ?? 0]);
  return html`<div class="mc-tiles" id="campaign-progress" aria-live="polite" data-source=${source}>
    ${tiles.map(([name, value]) => html`<div class="mc-tile" key=${name} data-stat=${name}>
      <span class="mc-tile-value">${value}</span><span class="mc-tile-name">${name}</span></div>`)}
  </div>`;
}

function Reasons({ stats }) {
  const entries = Object.entries(stats.reasons);
  if (!entries.length) return null;
  return html`<div class="mc-reasons" id="campaign-reasons"><h3>Why not sent</h3><ul class="mc-plain">
    ${entries.flatMap(([state, reasons]) => Object.entries(reasons).map(([reason, n]) =>
      html`<li key=${state + reason}><strong>${n}</strong> ${state}: ${reason.replaceAll("_", " ")}</li>`))}</ul></div>`;
}

const STATES = [["scheduled", "waiting"], ["sent", "sent"], ["delivered", "delivered"], ["read", "read"], ["failed", "failed"],
  ["skipped", "skipped"], ["cancelled", "cancelled"]];

function Recipients({ campaignId, version }) {
  const [offset, setOffset] = useState(0);
  const [state, setState] = useState("");
  const [page, setPage] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api(`/api/campaigns/${campaignId}/recipients/?limit=${PAGE}&offset=${offset}${state ? `&state=${state}` : ""}`)
      .then((p) => { setPage(p); setError(""); }, (e) => setError(errorText(e)));
  }, [campaignId, offset, state, version]);
  const pages = page ? Math.max(1, Math.ceil(page.count / PAGE)) : 1;
  return html`<section class="mc-card" aria-labelledby="recipients-title">
    <div class="mc-row mc-spread"><h2 id="recipients-title">Recipients</h2>
      <label>State <select value=${state} onChange=${(e) => { setState(e.target.value); setOffset(0); }}>
        <option value="">all</option>${STATES.map(([s, label]) => html`<option value=${s}>${label}</option>`)}
      </select></label></div>
    <${Notice} message=${error} kind="error" />
    ${page && html`<div class="mc-scroll"><table class="mc-table" id="recipients">
      <thead><tr><th scope="col">Contact</th><th scope="col">Score</th><th scope="col">Step</th><th scope="col">Rep</th><th scope="col">State</th>
        <th scope="col">Why</th><th scope="col">Planned window</th><th scope="col">Sent</th><th scope="col">Replied</th></tr></thead>
      <tbody>${page.results.map((r) => html`<tr key=${r.id} data-state=${r.state}><td>${r.contact_name}</td><td>${r.lead_score}</td><td>${r.step}</td>
        <td>${r.rep_name || "–"}</td><td><span class=${`mc-chip mc-status-${r.state}`}>${r.state === "scheduled" ? "waiting" : r.state}</span></td>
        <td class="mc-why">${r.why || "–"}</td>
        <td>${r.window_start ? `${when(r.window_start)} – ${when(r.window_end)}` : "–"}</td><td>${when(r.sent_at)}</td><td>${when(r.replied_at)}</td></tr>`)}</tbody>
    </table></div>
    <nav class="mc-row" aria-label="Recipient pages">
      <button type="button" class="mc-button mc-quiet" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
      <span id="recipients-page">Page ${Math.floor(offset / PAGE) + 1} of ${pages} · ${page.count} recipients</span>
      <button type="button" class="mc-button mc-quiet" disabled=${!page.next} onClick=${() => setOffset(offset + PAGE)}>Next page</button>
    </nav>`}
  </section>`;
}

function Actions({ campaign, act, busy }) {
  const [confirming, setConfirming] = useState(false);
  const s = campaign.status;
  const live = s === "scheduled" || s === "running";
  return html`<div class="mc-row" id="campaign-actions">
    ${s === "draft" && html`<button type="button" class="mc-button" disabled=${busy} onClick=${() => act("start")}>Start campaign</button>`}
    ${live && html`<button type="button" class="mc-button" disabled=${busy} onClick=${() => act("pause")}>Pause</button>`}
    ${s === "paused" && html`<button type="button" class="mc-button" disabled=${busy} onClick=${() => act("resume")}>Resume</button>`}
    ${(live || s === "paused" || s === "draft") && (confirming
      ? html`<button type="button" class="mc-button mc-danger" disabled=${busy} onClick=${() => { setConfirming(false); act(s === "draft" ? "delete" : "cancel"); }}>
          ${s === "draft" ? "Yes, delete the draft" : "Yes, cancel every unsent message"}</button>
        <button type="button" class="mc-button mc-quiet" onClick=${() => setConfirming(false)}>Keep it</button>`
      : html`<button type="button" class="mc-button mc-quiet" onClick=${() => setConfirming(true)}>${s === "draft" ? "Delete draft" : "Cancel campaign"}</button>`)}
  </div>`;
}

export function CampaignDetail({ id }) {
  const [campaign, setCampaign] = useState(null);
  const [stats, setStats] = useState(null);
  const [source, setSource] = useState("rest");
  const [version, setVersion] = useState(0);
  const [said, setSaid] = useState({ message: "", kind: "info" });
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      const [c, s] = await Promise.all([api(`/api/campaigns/${id}/`), api(`/api/campaigns/${id}/stats/`)]);
      setCampaign(c); setStats(s); setSource("rest"); setVersion((v) => v + 1);
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
  };
  useEffect(() => { setCampaign(null); setStats(null); load(); }, [id]);
  // Behind the live figures: the recipients page and what the frame does not carry (per rep, per hour).
  const behind = useMemo(() => throttle(async () => {
    try {
      const fresh = await api(`/api/campaigns/${id}/stats/`);
      setStats((s) => (s ? { ...fresh, ...pick(s, PROGRESS_KEYS) } : fresh));
      setVersion((v) => v + 1);
    } catch (_) { /* the next frame or a reconnect reads again */ }
  }, 2000), [id]);
  useLive((frame) => {
    if (frame.event === "reconnected") { load(); return; }
    if (frame.event !== "campaign.progress" || String(frame.data.campaign_id) !== String(id)) return;
    setStats((s) => s && { ...s, ...pick(frame.data, PROGRESS_KEYS) });
    setCampaign((c) => c && { ...c, status: frame.data.status });
    setSource("socket");
    behind();
  }, [id, behind]);
  const act = async (what) => {
    setBusy(true);
    try {
      if (what === "delete") {
        await api(`/api/campaigns/${id}/`, { method: "DELETE" });
        location.hash = "#campaigns";
        return;
      }
      const answer = await api(`/api/campaigns/${id}/${what}/`, { method: "POST" });
      let message;
      if (what === "start") {
        const p = answer.plan;
        const reasons = Object.entries(p.reasons).map(([k, v]) => `${v} ${k.replaceAll("_", " ")}`).join(", ");
        const excluded = Object.entries(p.excluded).map(([k, v]) => `${v} ${k.replaceAll("_", " ")}`).join(", ");
        message = `Started: ${p.scheduled} message${p.scheduled === 1 ? "" : "s"} planned, ${p.skipped} skipped${reasons ? ` (${reasons})` : ""}${excluded ? `; left out: ${excluded}` : ""}.`;
      } else {
        const verb = { pause: "Paused: held", resume: "Resumed:", cancel: "Cancelled: withdrew" }[what];
        message = `${verb} ${answer.messages} waiting message${answer.messages === 1 ? "" : "s"}.`;
      }
      await load();  // the new status and figures show with the sentence, not after it
      setSaid({ kind: "info", message });
    } catch (err) { setSaid({ message: errorText(err), kind: "error" }); }
    setBusy(false);
  };
  if (!campaign || !stats) return html`<div><${Notice} message=${said.message} kind=${said.kind} /><p class="mc-muted">Loading…</p></div>`;
  const audience = Object.entries(campaign.audience).map(([k, v]) => `${k.replaceAll("_", " ")}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ") || "every contact of the team";
  return html`<div class="mc-stack">
    <section class="mc-card" aria-labelledby="campaign-title">
      <p><a href="#campaigns">← Campaigns</a></p>
      <div class="mc-row mc-spread"><h2 id="campaign-title">${campaign.name}</h2>
        <span class=${`mc-chip mc-status-${campaign.status}`} id="campaign-status">${campaign.status}</span></div>
      <p class="mc-muted">Audience ${audience} · window ${wall(campaign.start_at)} → ${wall(campaign.end_at)} in each contact's zone
        · <span id="campaign-pool">sent by ${campaign.rep_pool.length ? campaign.rep_pool.map((r) => r.full_name).join(", ") : "every rep of the team on the channel"}</span>
        ${campaign.slots.length ? ` · ${campaign.slots.length} sending slots` : ""}${campaign.daily_cap ? ` · at most ${campaign.daily_cap} a day` : ""}
        ${campaign.steps.length ? ` · ${campaign.steps.length} follow-up step${campaign.steps.length === 1 ? "" : "s"}` : ""}</p>
      <${Actions} campaign=${campaign} act=${act} busy=${busy} />
      <${Notice} message=${said.message} kind=${said.kind} id="campaign-said" />
      <h3>Progress <span class="mc-muted">(live)</span></h3>
      <${Progress} stats=${stats} source=${source} />
      ${stats.next_send_at && html`<p class="mc-muted">Next planned send: ${when(stats.next_send_at)}</p>`}
      <${Reasons} stats=${stats} />
    </section>
    <div class="mc-grid">
      <section class="mc-card" aria-labelledby="c-funnel-title"><h2 id="c-funnel-title">Funnel</h2>
        <${CampaignFunnel} stats=${stats} /></section>
      <section class="mc-card" aria-labelledby="per-rep-title"><h2 id="per-rep-title">Per rep</h2>
        ${stats.per_rep.length ? html`<div class="mc-scroll"><table class="mc-table" id="per-rep"><thead><tr><th scope="col">Rep</th><th scope="col">Recipients</th>
          <th scope="col">Waiting</th><th scope="col">Sent</th><th scope="col">Failed</th></tr></thead>
          <tbody>${stats.per_rep.map((r) => html`<tr key=${r.rep_id}><td>${r.rep_name || "no rep"}</td><td>${r.total}</td><td>${r.scheduled}</td>
            <td>${r.sent + r.delivered + r.read}</td><td>${r.failed}</td></tr>`)}</tbody></table></div>` : html`<p class="mc-muted">Not started.</p>`}
      </section>
    </div>
    ${campaign.status !== "draft" && html`<${Recipients} campaignId=${id} version=${version} />`}
  </div>`;
}
