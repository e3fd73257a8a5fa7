// The inbox socket: reconnects with backoff, resumes after the last seq it saw, shows an offline banner.
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
    const ws = new WebSocket(`${scheme}://${location.host}/ws/inbox/`);
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
      // First connection: start from now. Reconnection: ask for everything missed, in order.
      if (this.lastSeq === null) this.lastSeq = frame.data.seq;
      else {
        this.ws.send(JSON.stringify({ action: "resume", after: this.lastSeq }));
        this.onReconnect();  // unstored state (presence) is re-read
      }
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
