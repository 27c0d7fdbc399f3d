// Real y-websocket clients (WebsocketProvider from the `y-websocket` package, documents from
// `yjs`) against a Communs server. Reads a JSON scenario on stdin; see the two modes below.
//
// converge: every client connects, announces itself through awareness and types its text at
//   random places concurrently; the script waits until the editors agree, then prints
//   {"clients": [{"text", "peers", "denied"}]} (peers = awareness names seen).
// observe: client 0 appends characters forever (every `intervalMs`); client 1 prints a line
//   {"seen": text} each time its copy changes: what a peer has seen. Runs `durationMs`.
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
}));

const denied = new Set();
const warn = console.warn;
console.warn = (...args) => {  // y-websocket reports auth "permission denied" this way
  const text = args.join(" ");
  const match = /Permission denied to access (\S+)/.exec(text);
  if (match) denied.add(match[1].replace(/\.$/, ""));
  else warn(...args);
};

function connect(spec, name) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(spec.url, spec.room, doc, {
    WebSocketPolyfill: WebSocket, disableBc: true, params: { ticket: spec.ticket },
  });
  provider.awareness.setLocalState({ user: { name } });
  const synced = new Promise((resolve) => provider.on("sync", (ok) => ok && resolve()));
  return { doc, provider, synced, text: doc.getText("text"), name, spec };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (input.mode === "converge") {
  const clients = input.clients.map((spec, i) => connect(spec, spec.name || `client${i}`));
  await Promise.all(clients.map((c) => c.synced));
  await Promise.all(clients.map(async (c) => {
    for (const ch of c.spec.type || "") {
      const at = Math.floor(Math.random() * (c.text.length + 1));
      c.text.insert(at, ch);
      await sleep(Math.random() * 5);
    }
  }));
  const editors = clients.filter((c) => !c.spec.readOnly);
  const expected = editors.reduce((n, c) => n + (c.spec.type || "").length, 0);
  const deadline = Date.now() + (input.timeoutMs || 15000);
  const peersOf = (c) => [...c.provider.awareness.getStates().entries()]
    .filter(([id]) => id !== c.doc.clientID).map(([, s]) => s.user && s.user.name).sort();
  while (Date.now() < deadline) {
    const texts = clients.map((c) => c.text.toString());
    const agreed = texts.every((t) => t === texts[0]) && texts[0].length === expected;
    const aware = clients.every((c) => peersOf(c).length === clients.length - 1);
    const refused = clients.filter((c) => c.spec.readOnly).every((c) => denied.has(c.provider.url));
    if (agreed && aware && refused) break;
    await sleep(50);
  }
  console.log(JSON.stringify({
    clients: clients.map((c) => ({
      text: c.text.toString(), peers: peersOf(c), denied: denied.has(c.provider.url),
    })),
  }));
  clients.forEach((c) => c.provider.destroy());
  process.exit(0);
} else if (input.mode === "observe") {
  const [writer, watcher] = input.clients.map((spec, i) => connect(spec, `client${i}`));
  await Promise.all([writer.synced, watcher.synced]);
  watcher.text.observe(() => {
    process.stdout.write(JSON.stringify({ seen: watcher.text.toString() }) + "\n");
  });
  const end = Date.now() + input.durationMs;
  let n = 0;
  while (Date.now() < end) {
    writer.text.insert(writer.text.length, String.fromCharCode(97 + (n++ % 26)));
    await sleep(input.intervalMs);
  }
  // Let the last keystrokes travel (or time out: the test then reports the difference).
  const settle = Date.now() + 10000;
  while (Date.now() < settle && watcher.text.toString() !== writer.text.toString()) await sleep(50);
  process.stdout.write(JSON.stringify({
    final: { writer: writer.text.toString(), watcher: watcher.text.toString() },
  }) + "\n");
  writer.provider.destroy();
  watcher.provider.destroy();
  process.exit(0);
}
