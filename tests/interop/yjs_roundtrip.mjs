// Reads a base64 Yjs update on stdin (may be empty), applies it to a fresh Y.Doc, then makes
// its own edit and prints {"text": <text before the edit>, "update": <base64 full state>}.
import * as Y from "yjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const incoming = Buffer.concat(chunks).toString().trim();

const doc = new Y.Doc();
if (incoming) Y.applyUpdate(doc, Buffer.from(incoming, "base64"));
const text = doc.getText("content");
const before = text.toString();
const fragment = doc.getXmlFragment("default");
doc.transact(() => {
  text.insert(text.length, " [node]");
  const paragraph = new Y.XmlElement("paragraph");
  paragraph.insert(0, [new Y.XmlText("from node")]);
  fragment.insert(fragment.length, [paragraph]);
});
process.stdout.write(JSON.stringify({ text: before, update: Buffer.from(Y.encodeStateAsUpdate(doc)).toString("base64") }));
