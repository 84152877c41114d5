// The project's live stream: one websocket per project page, reconnected with backoff.
// Every event has a per-project sequence number; on a gap (or after a reconnect) the page is told
// to refetch its state instead of trusting events it may have missed.
export function connectProject(projectId, { onEvent, onResync, onState } = {}) {
  let socket = null;
  let lastSeq = null;
  let attempt = 0;
  let closedByUs = false;
  let pinger = null;

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/projects/${projectId}/`);
    socket.addEventListener("open", () => {
      onState?.("open");
      if (attempt > 0) onResync?.("reconnected");
      attempt = 0;
      // The server checks access again on every ping (a removed member loses the stream) and
      // re-joins the project's group (repairing it after a Redis restart).
      window.clearInterval(pinger);
      pinger = window.setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 15000);
    });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (typeof event.seq === "number") {
        // A gap means missed events; going backwards means the counter was reset (Redis restarted).
        if (lastSeq !== null && (event.seq > lastSeq + 1 || event.seq <= lastSeq)) onResync?.("gap");
        lastSeq = event.seq;
      }
      onEvent?.(event);
    });
    socket.addEventListener("close", (closeEvent) => {
      window.clearInterval(pinger);
      onState?.("closed");
      if (closedByUs) return;
      if (closeEvent.code === 4404 || closeEvent.code === 4403) return; // access gone: do not hammer
      attempt += 1;
      const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
      window.setTimeout(open, delay);
    });
  }
  open();
  return { close() { closedByUs = true; socket?.close(); } };
}
