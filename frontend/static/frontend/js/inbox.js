// The rep inbox's entry: who is signed in, the socket, the header's switches, then the Preact app
// (components and state in ./rep/). The socket client (./socket.js) stays the one socket module.
import { html, render } from "../vendor/htm-preact-standalone-3.1.1.mjs";
import { api } from "./api.js";
import { App } from "./rep/App.js";
import { loadToday, notificationsOn, onEvent, reloadAll, setNotifications } from "./rep/events.js";
import { loadConversations, loadCounts } from "./rep/list.js";
import { state, update } from "./rep/store.js";
import { InboxSocket } from "./socket.js";

const $ = (id) => document.getElementById(id);

function onStatus(status) {
  $("offline").hidden = status === "online";
  document.body.dataset.socket = status;
}

function bindHeader() {
  $("availability").addEventListener("change", async (e) => {
    await api("/api/reps/me/", { method: "PATCH", body: { is_available: e.target.checked } });
    await loadToday();
  });
  $("reconnect").addEventListener("click", () => window.sb.socket.drop());
  const notify = $("notify");
  const show = (on) => { notify.setAttribute("aria-pressed", on ? "true" : "false"); notify.textContent = on ? "Desktop alerts on" : "Desktop alerts off"; };
  if (!("Notification" in window)) notify.hidden = true;
  show(notificationsOn());
  notify.addEventListener("click", async () => show(await setNotifications(!notificationsOn())));
}

async function start() {
  const me = await api("/api/me/");
  update({ me });
  $("me-name").textContent = me.rep ? me.rep.full_name : me.username;
  const manages = me.is_superuser || (me.rep && me.rep.role !== "rep");
  if (manages) $("dashboard-link").hidden = false;
  if (!me.rep) $("availability-switch").hidden = true;
  bindHeader();
  window.sb = { socket: new InboxSocket({ onEvent, onStatus, onReload: reloadAll, onReconnect: () => loadToday().catch(() => {}) }), state };
  render(html`<${App} />`, $("app"));
  const [templates, channels, reps] = await Promise.all([
    api("/api/templates/?page_size=100"), api("/api/channels/").catch(() => []),
    manages ? api("/api/reps/").catch(() => []) : Promise.resolve([]),
    loadConversations(), loadToday(), loadCounts()]);
  update({ templates: templates.results || templates, channels: channels.results || channels, reps: reps.results || reps });
}

start().catch((error) => {
  $("fatal").textContent = `Could not load the inbox: ${error.message}`;
});
