// Manager dashboard: presence, capacity, the unassigned queue with reassign, volumes, campaigns.
import { api, el } from "./api.js";
import { barChart } from "./chart.js";
import { InboxSocket } from "./socket.js";

const $ = (id) => document.getElementById(id);
let data = null;

async function load() {
  data = await api("/api/dashboard/");
  render();
}

function render() {
  $("reps").replaceChildren(...data.reps.map((r) => el("tr", { "data-rep": r.id },
    el("td", { text: r.full_name }),
    el("td", {}, el("span", { class: "dot" + (r.online ? " online" : ""), "aria-label": r.online ? "online" : "offline" })),
    el("td", { text: r.available ? "yes" : "no" }),
    el("td", { text: `${r.used} / ${r.allowance}` }))));
  barChart($("capacity-chart"), { labels: data.reps.map((r) => r.full_name.split(" ")[0]),
    series: [{ name: "used", values: data.reps.map((r) => r.used) }, { name: "allowance", values: data.reps.map((r) => r.allowance), color: "#cbd5e1" }] });
  const reps = data.reps.filter((r) => r.role === "rep");
  $("unassigned").replaceChildren(...data.unassigned.map((c) => el("li", {},
    el("span", { text: `${c.contact_name} (${c.channel_kind}) ` }),
    el("label", {}, "Assign to ", el("select", { "aria-label": `Assign ${c.contact_name}`, onchange: (e) => assign(c.id, e.target.value) },
      el("option", { value: "", text: "—" }), ...reps.map((r) => el("option", { value: r.id, text: r.full_name })))))));
  if (!data.unassigned.length) $("unassigned").append(el("li", { class: "muted", text: "Nobody is waiting." }));
  const days = [...new Set(data.messages_per_day.map((r) => r.day))];
  const channels = [...new Set(data.messages_per_day.map((r) => r.channel))];
  barChart($("volume-chart"), { labels: days.map((d) => d.slice(5)), series: channels.map((ch) => ({ name: ch,
    values: days.map((d) => (data.messages_per_day.find((r) => r.day === d && r.channel === ch) || { count: 0 }).count) })) });
  const seconds = data.first_response_seconds;
  $("first-response").textContent = seconds === null ? "–" : seconds < 3600 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
  $("open-count").textContent = data.open_conversations;
  $("campaigns").replaceChildren(...data.campaigns.map((c) => el("tr", {}, el("td", { text: c.name }), el("td", { text: c.status }),
    el("td", { text: Object.entries(c.states).map(([k, v]) => `${k}: ${v}`).join(", ") || "no recipients" }))));
}

async function assign(conversationId, repId) {
  if (!repId) return;
  await api(`/api/conversations/${conversationId}/assign/`, { method: "POST", body: { rep_id: Number(repId) } });
  await load();
}

new InboxSocket({
  onEvent: (frame) => {
    if (frame.event === "rep.presence") {
      const rep = data && data.reps.find((r) => r.id === frame.data.rep_id);
      if (rep) { rep.online = frame.data.online; rep.available = frame.data.available; render(); }
    } else if (frame.event.startsWith("conversation.")) load();
  },
  onStatus: () => {},
  onReload: load,
  onReconnect: load,
});
load().catch((error) => { $("fatal").textContent = `Could not load the dashboard: ${error.message}`; });
