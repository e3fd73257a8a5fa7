// Charts of the team's work: messages per day by channel, first-response time per day, and the
// funnel of a campaign (planned → sent → delivered → read → replied). Everything is the manager's
// teams' only, read from /api/dashboard/ and the campaign's /stats/.
import { html, useState, useEffect, api, errorText, Notice, duration } from "./ui.js";
import { StackedBars, Funnel } from "../chart.js";

export function funnelStages(stats) {
  const s = stats.by_state;
  return [
    { label: "planned", value: stats.recipients - s.skipped },
    { label: "sent", value: s.sent + s.delivered + s.read },
    { label: "delivered", value: s.delivered + s.read },
    { label: "read", value: s.read },
    { label: "replied", value: stats.replied },
  ];
}

export function CampaignFunnel({ campaignId, stats: given }) {
  const [stats, setStats] = useState(given || null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (given) { setStats(given); return; }
    if (!campaignId) return;
    api(`/api/campaigns/${campaignId}/stats/`).then(setStats, (e) => setError(errorText(e)));
  }, [campaignId, given]);
  if (error) return html`<${Notice} message=${error} kind="error" />`;
  if (!stats) return html`<p class="mc-muted">Loading…</p>`;
  return html`<${Funnel} id="funnel-chart" title=${`Funnel of ${stats.name}`} stages=${funnelStages(stats)} />`;
}

export function Insights({ data }) {
  const days = data.dates;  // the server's days (the zone it counts in), not the browser's
  const channels = [...new Set(data.messages_per_day.map((r) => r.channel))].sort();
  const count = (d, ch) => (data.messages_per_day.find((r) => r.day === d && r.channel === ch) || { count: 0 }).count;
  const series = channels.map((ch) => ({ name: ch, values: days.map((d) => count(d, ch)) }));
  const response = days.map((d) => (data.first_response_per_day.find((r) => r.day === d) || { seconds: 0 }).seconds);
  const [campaignId, setCampaignId] = useState(data.campaigns.length ? String(data.campaigns[0].id) : "");
  const labels = days.map((d) => d.slice(5));
  return html`<div class="mc-grid">
    <section class="mc-card" aria-labelledby="volume-title">
      <h2 id="volume-title">Messages per day by channel</h2>
      <${StackedBars} id="volume-chart" title="Messages per day by channel" labels=${labels} series=${series} />
    </section>
    <section class="mc-card" aria-labelledby="response-title">
      <h2 id="response-title">First-response time</h2>
      <p>Average over the period: <strong id="first-response">${duration(data.first_response_seconds)}</strong></p>
      <${StackedBars} id="response-chart" title="Average first-response time per day" labels=${labels}
        series=${[{ name: "first response", values: response, color: "#0e7490" }]} format=${duration} />
    </section>
    <section class="mc-card" aria-labelledby="funnel-title">
      <h2 id="funnel-title">Campaign funnel</h2>
      ${data.campaigns.length ? html`
        <label for="funnel-campaign">Campaign</label>
        <select id="funnel-campaign" value=${campaignId} onChange=${(e) => setCampaignId(e.target.value)}>
          ${data.campaigns.map((c) => html`<option value=${c.id}>${c.name} (${c.status})</option>`)}</select>
        <${CampaignFunnel} campaignId=${campaignId} />`
      : html`<p class="mc-muted">No campaign yet.</p>`}
    </section>
  </div>`;
}
