// The rep inbox's root: list, thread and contact panel side by side (stacked on a phone).
import { html } from "../../vendor/htm-preact-standalone-3.1.1.mjs";
import { ContactPanel } from "./ContactPanel.js";
import { Sidebar } from "./Sidebar.js";
import { useStore } from "./store.js";
import { Thread } from "./Thread.js";

export function App() {
  const state = useStore();
  const classes = ["inbox-grid", state.current ? "has-current" : "", state.panel.open && state.current ? "has-panel" : ""];
  return html`<div class=${classes.filter(Boolean).join(" ")}>
    <${Sidebar} state=${state} />
    <${Thread} state=${state} />
    <${ContactPanel} state=${state} />
  </div>`;
}
