// The manager console: team board, schedules, campaigns and charts on one page, one hash route each
// (#team, #schedules/<rep>, #campaigns, #campaigns/new, #campaigns/<id>, #charts). One socket
// (socket.js) feeds every screen through the bus in manager/ui.js.
import { html, render, useState, useEffect, useMemo, api, errorText, Notice, useLoad, publish, throttle, Tabs } from "./manager/ui.js";
import { InboxSocket } from "./socket.js";
import { TeamBoard } from "./manager/board.js";
import { Schedules } from "./manager/schedule.js";
import { CampaignList, CampaignDetail } from "./manager/campaigns.js";
import { CampaignBuilder } from "./manager/builder.js";
import { Insights } from "./manager/insights.js";

const TABS = [["team", "Team"], ["schedules", "Schedules"], ["campaigns", "Campaigns"], ["charts", "Charts"]];
const RELOADING = new Set(["message.created", "message.updated", "messages.changed", "conversation.created",
  "conversation.updated", "conversation.assigned", "conversations.changed", "activity.updated"]);

function route() {
  const [tab = "team", arg = ""] = location.hash.replace(/^#/, "").split("/");
  return { tab: TABS.some(([key]) => key === tab) ? tab : "team", arg };
}

function Builder() {
  const [options, error] = useLoad(() => api("/api/campaigns/options/"), []);
  if (error) return html`<${Notice} message=${error} kind="error" />`;
  if (!options) return html`<p class="mc-muted">Loading…</p>`;
  if (!options.channels.length) return html`<p>No channel has reps of your team: add a rep to a channel first.</p>`;
  return html`<${CampaignBuilder} options=${options} />`;
}

function App() {
  const [where, setWhere] = useState(route());
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const load = () => api("/api/dashboard/").then((d) => { setData(d); setError(""); }, (e) => setError(`Could not load the console: ${errorText(e)}`));
  const reload = useMemo(() => throttle(load, 1500), []);
  useEffect(() => {
    const onHash = () => { setWhere(route()); window.scrollTo(0, 0); };
    window.addEventListener("hashchange", onHash);
    load();
    const socket = new InboxSocket({
      onEvent: (frame) => {
        publish(frame);
        if (frame.event === "rep.presence") {
          setData((d) => d && { ...d, reps: d.reps.map((r) => (r.id === frame.data.rep_id
            ? { ...r, online: frame.data.online, available: frame.data.available } : r)) });
        } else if (RELOADING.has(frame.event)) reload();
      },
      onStatus: (status) => { document.body.dataset.socket = status; },
      onReload: () => { load(); publish({ event: "reconnected" }); },
      onReconnect: () => { load(); publish({ event: "reconnected" }); },
    });
    window.sb = { socket };
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const titles = { team: "Team", schedules: "Schedules", campaigns: "Campaigns", charts: "Charts" };
  useEffect(() => { document.title = `${titles[where.tab]} · Manager console · Switchboard`; }, [where.tab]);
  const activities = data ? [...new Set(data.reps.flatMap((r) => r.channels.flatMap((c) => c.activities.map((a) => a.activity))))].sort() : [];
  let screen = html`<p class="mc-muted">Loading…</p>`;
  if (where.tab === "campaigns") {
    screen = where.arg === "new" ? html`<${Builder} />` : where.arg ? html`<${CampaignDetail} id=${where.arg} key=${where.arg} />` : html`<${CampaignList} />`;
  } else if (data) {
    if (where.tab === "team") screen = html`<${TeamBoard} data=${data} reload=${load} />`;
    if (where.tab === "schedules") screen = html`<${Schedules} reps=${data.reps} repId=${where.arg} activities=${activities} />`;
    if (where.tab === "charts") screen = html`<${Insights} data=${data} />`;
  }
  return html`<${Tabs} current=${where.tab} tabs=${TABS} />
    <main class="mc-main" id="main">
      <h1 class="sr-only">Manager console: ${titles[where.tab]}</h1>
      <${Notice} message=${error} kind="error" id="fatal" />
      ${screen}
    </main>`;
}

const root = document.getElementById("app");
root.replaceChildren();  // the server-rendered "Loading…" line
render(html`<${App} />`, root);
