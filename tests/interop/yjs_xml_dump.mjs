// Reads a base64 Yjs update on stdin, applies it to a fresh Y.Doc and prints
// {"xml": <the XmlFragment named by argv[2] (default "default") as a tree>, "update": <base64
// of the whole state re-encoded by yjs>}. Elements are {element, attrs, children}, texts
// {text: <delta>}. JSON.stringify throws on a BigInt, so a number pycrdt wrote as a 64-bit
// integer fails the test instead of reaching an editor.
import * as Y from "yjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const doc = new Y.Doc();
Y.applyUpdate(doc, Buffer.from(Buffer.concat(chunks).toString().trim(), "base64"));

const dump = (type) => type.toArray().map((child) =>
  child instanceof Y.XmlText
    ? { text: child.toDelta() }
    : { element: child.nodeName, attrs: child.getAttributes(), children: dump(child) });

const xml = dump(doc.getXmlFragment(process.argv[2] ?? "default"));
const update = Buffer.from(Y.encodeStateAsUpdate(doc)).toString("base64");
process.stdout.write(JSON.stringify({ xml, update }));
