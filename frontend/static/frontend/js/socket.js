// The inbox socket: reconnects with backoff, resumes after the last seq it saw, shows an offline banner.
// A frame that skips seqs is a gap the server fills by itself (its periodic seq check), so the client
// only ignores what it already has.
export class InboxSocket {
  constructor({ onEvent, onStatus, onReload, onReconnect = () => {} }) {
    this.onReconnect = onReconnect;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onReload = onReload;
    this.lastSeq = null;
    this.attempt = 0;
    this.pending = [];
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // A reconnect names the last seq it saw: the server replays what was missed before any live
    // frame, so no live frame can overtake the replay (a `resume` sent after `ready` could race one).
    const after = this.lastSeq === null ? "" : `?after=${this.lastSeq}`;
    const ws = new WebSocket(`${scheme}://${location.host}/ws/inbox/${after}`);
    this.ws = ws;
    ws.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    ws.addEventListener("close", (close) => {
      if (this.ws !== ws) return;
      this.onStatus("offline");
      if (close.code === 4401) { window.location.assign("/login/"); return; }
      const delay = Math.min(10000, 500 * 2 ** this.attempt++) * (0.5 + Math.random());
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  receive(frame) {
    if (frame.event === "ready") {
      this.attempt = 0;
      // First connection: start from now. Reconnection: the missed frames follow (?after=).
      if (this.lastSeq === null) this.lastSeq = frame.data.seq;
      else this.onReconnect();  // unstored state (presence) is re-read
      this.onStatus("online");
      for (const action of this.pending.splice(0)) this.ws.send(JSON.stringify(action));
      return;
    }
    if (frame.event === "reload") { this.onReload(); return; }
    if (frame.event === "heartbeat" || frame.event === "ok") return;
    if (frame.seq !== null && frame.seq !== undefined) {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) return;
      this.lastSeq = frame.seq;
    }
    this.onEvent(frame);
  }

  send(action) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(action));
    else if (action.action !== "typing") this.pending.push(action);
  }

  // For tests and the "reconnect now" button.
  drop() { if (this.ws) this.ws.close(); }
}
