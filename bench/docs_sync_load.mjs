// Load generator of bench/docs_sync.py: N lean y-websocket clients on one document, in this
// one Node process, each typing `rate` small inserts per second.
//
// Usage: node docs_sync_load.mjs '<json config>' (see docs_sync.py, run_load_client).
// Config: {urls: [one websocket URL per client], rate, warmup, duration, drain, modules,
// deflate}. `modules` is a node_modules directory holding yjs and ws.
//
// Each client keeps its own Y.Doc (so its updates are genuine Yjs updates) and inserts a
// marker `<client.seq>` at the end of its own text; it does not apply what it receives (a
// lean client: the peers' work is not what is measured). Latency: the send time of every
// marker is kept here, and a receiving client looks the markers up in each incoming
// update (Yjs encodes inserted strings verbatim, and merging updates keeps them whole), so
// one sample per (update, peer) pair, on this process's monotonic clock.
//
// Stdout: "MEASURE_START" and "MEASURE_END" lines at the edges of the measured window (the
// caller samples the server's CPU there), then one JSON line with the results.

import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'

const config = JSON.parse(process.argv[2])
const require = createRequire(config.modules.replace(/\/?$/, '/'))
const Y = require('yjs')
const WebSocket = require('ws')

const N = config.urls.length
const PERIOD = 1000 / config.rate
const MAX_SEQ = Math.ceil((config.warmup + config.duration + 5) * config.rate) + 10
const MARKER = /<(\d+)\.(\d+)>/g

const sentAt = new Float64Array(N * MAX_SEQ).fill(-1)
const delivered = new Uint16Array(N * MAX_SEQ)
let samples = new Float64Array(1 << 20)
let sampleCount = 0
let windowStart = Infinity
let windowEnd = Infinity
let deliveriesInWindow = 0
let sentInWindow = 0
let sendErrors = 0
const closes = []

function varuint (n) {
  const out = []
  while (n > 0x7f) { out.push(0x80 | (n & 0x7f)); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

function syncMessage (kind, payload) {
  return Buffer.concat([Buffer.from([0, kind, ...varuint(payload.length)]), Buffer.from(payload)])
}

function readVarBytes (buf, pos) {
  let n = 0; let shift = 0; let byte
  do { byte = buf[pos++]; n += (byte & 0x7f) * 2 ** shift; shift += 7 } while (byte >= 0x80)
  return buf.subarray(pos, pos + n)
}

function record (receiver, buf, now) {
  const text = buf.toString('latin1')
  MARKER.lastIndex = 0
  let match
  while ((match = MARKER.exec(text)) !== null) {
    const client = +match[1]; const seq = +match[2]
    if (client === receiver || client >= N || seq >= MAX_SEQ) continue
    const slot = client * MAX_SEQ + seq
    const sent = sentAt[slot]
    if (sent < 0) continue
    delivered[slot]++
    if (now >= windowStart && now < windowEnd) deliveriesInWindow++
    if (sent >= windowStart && sent < windowEnd) {
      if (sampleCount === samples.length) {
        const grown = new Float64Array(samples.length * 2); grown.set(samples); samples = grown
      }
      samples[sampleCount++] = now - sent
    }
  }
}

class Client {
  constructor (index, url) {
    this.index = index
    this.doc = new Y.Doc()
    this.text = this.doc.getText('text')
    this.seq = 0
    this.pending = null
    this.doc.on('update', (update) => { this.pending = update })
    this.url = url
  }

  connect () {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: config.deflate })
      this.ws = ws
      ws.binaryType = 'nodebuffer'
      let synced = false
      ws.on('open', () => ws.send(syncMessage(0, Y.encodeStateVector(this.doc))))
      ws.on('message', (data) => {
        const now = performance.now()
        if (typeof data === 'string') return
        if (data[0] !== 0) return // awareness, auth: not measured
        if (data[1] === 0) { // the server's SyncStep1: answer with what it misses
          ws.send(syncMessage(1, Y.encodeStateAsUpdate(this.doc, readVarBytes(data, 2))))
          return
        }
        if (data[1] === 1 && !synced) { synced = true; resolve() }
        record(this.index, data, now)
      })
      ws.on('error', (err) => { if (!synced) reject(err) })
      ws.on('close', (code, reason) => {
        closes.push(`${code} ${reason}`)
        if (!synced) reject(new Error(`closed ${code} ${reason}`))
      })
    })
  }

  type (now) {
    const seq = this.seq++
    if (seq >= MAX_SEQ) return
    this.doc.transact(() => this.text.insert(this.text.length, `<${this.index}.${seq}>`))
    sentAt[this.index * MAX_SEQ + seq] = now
    if (now >= windowStart && now < windowEnd) sentInWindow++
    try {
      this.ws.send(syncMessage(2, this.pending))
    } catch (err) {
      sendErrors++
    }
  }
}

function percentile (sorted, fraction) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]
}

async function main () {
  const clients = config.urls.map((url, index) => new Client(index, url))
  const connectStarted = performance.now()
  for (let i = 0; i < clients.length; i += 10) {
    await Promise.all(clients.slice(i, i + 10).map((client) => client.connect()))
  }
  const connectMs = performance.now() - connectStarted

  const lags = []
  let lastTick = performance.now()
  const lagTimer = setInterval(() => {
    const now = performance.now(); lags.push(now - lastTick - 20); lastTick = now
  }, 20)

  const start = performance.now()
  windowStart = start + config.warmup * 1000
  windowEnd = windowStart + config.duration * 1000
  const next = clients.map(() => start + Math.random() * PERIOD)
  let cpuStart = null
  let cpuUsed = null
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now()
      if (cpuStart === null && now >= windowStart) {
        cpuStart = process.cpuUsage(); process.stdout.write('MEASURE_START\n')
      }
      if (now >= windowEnd) {
        cpuUsed = process.cpuUsage(cpuStart); process.stdout.write('MEASURE_END\n')
        clearInterval(tick); resolve(); return
      }
      for (let i = 0; i < clients.length; i++) {
        while (next[i] <= now) { clients[i].type(now); next[i] += PERIOD }
      }
    }, 2)
  })
  await new Promise((resolve) => setTimeout(resolve, config.drain * 1000))
  clearInterval(lagTimer)

  let expected = 0; let complete = 0; let missing = 0
  for (let c = 0; c < N; c++) {
    for (let s = 0; s < MAX_SEQ; s++) {
      const sent = sentAt[c * MAX_SEQ + s]
      if (sent < windowStart || sent >= windowEnd) continue
      expected += N - 1
      const got = delivered[c * MAX_SEQ + s]
      if (got >= N - 1) complete++
      missing += Math.max(0, N - 1 - got)
    }
  }
  const sorted = samples.subarray(0, sampleCount).sort()
  const sortedLags = lags.sort((a, b) => a - b)
  for (const client of clients) client.ws.terminate()
  const result = {
    clients: N,
    connect_ms: connectMs,
    updates_sent: sentInWindow,
    updates_sent_per_s: sentInWindow / config.duration,
    deliveries_expected: expected,
    deliveries: sampleCount,
    deliveries_missing: missing,
    updates_complete: complete,
    deliveries_per_s: deliveriesInWindow / config.duration,
    latency_p50_ms: percentile(sorted, 0.5),
    latency_p99_ms: percentile(sorted, 0.99),
    latency_max_ms: sorted.length ? sorted[sorted.length - 1] : null,
    client_cpu_percent: (cpuUsed.user + cpuUsed.system) / 1e4 / config.duration,
    client_loop_lag_p99_ms: percentile(sortedLags, 0.99),
    send_errors: sendErrors,
    closes: [...new Set(closes)].slice(0, 5)
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
