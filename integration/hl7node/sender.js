// sender.js plays a sending hospital's LIS with node-hl7-client
// (third-party software, from npm): it sends COUNT HL7 v2 messages to a
// wardgate box's MLLP intake, one at a time, each waiting for its ACK, and
// resends a message answered AE (the box says a retry may help) after a
// short pause, up to RETRIES times:
//
//   node sender.js PORT COUNT PREFIX RECEIVING_APP RECEIVING_FACILITY TYPE RETRIES
//
// With MLLPS_CA, MLLPS_CERT and MLLPS_KEY (PEM files) set, it speaks MLLPS
// with that client certificate, as a box with authenticated intake asks.
//
// One JSON line per message on stdout:
//   {"id":"<MSH-10>","code":"AA","msa2":"<MSA-2>","attempts":1,"text":"<MSA-3>"}
'use strict'
const fs = require('fs')
const { Client, Message } = require('node-hl7-client')

const [port, count, prefix, app, fac, type, retries] = process.argv.slice(2)
const host = '127.0.0.1'

function messageText (i) {
  const id = `${prefix}${String(i).padStart(5, '0')}`
  const ts = '20261203120000'
  return {
    id,
    text: [
      `MSH|^~\\&|LIS|SENDER|${app}|${fac}|${ts}||${type}|${id}|P|2.5`,
      `PID|1||MRN${i}^^^SENDER^MR||DOE^JANE||19800101|F`,
      `OBX|1|NM|GLU^Glucose||${90 + (i % 40)}|mg/dL|||||F`
    ].join('\r')
  }
}

async function main () {
  const opts = { host }
  if (process.env.MLLPS_CA) {
    opts.tls = {
      ca: fs.readFileSync(process.env.MLLPS_CA),
      cert: fs.readFileSync(process.env.MLLPS_CERT),
      key: fs.readFileSync(process.env.MLLPS_KEY)
    }
  }
  const client = new Client(opts)
  let pending = null
  const conn = client.createConnection({ port: Number(port), waitAck: true }, async (res) => {
    const m = res.getMessage()
    if (pending) {
      const p = pending
      pending = null
      p({ code: m.get('MSA.1').toString(), msa2: m.get('MSA.2').toString(), text: m.get('MSA.3').toString() })
    }
  })
  const ack = (msg) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { pending = null; reject(new Error('no ACK in 60s')) }, 60000)
    pending = (a) => { clearTimeout(timer); resolve(a) }
    conn.sendMessage(msg).catch(reject)
  })
  for (let i = 0; i < Number(count); i++) {
    const { id, text } = messageText(i)
    const msg = new Message({ text })
    let a
    let attempts = 0
    for (;;) {
      attempts++
      a = await ack(msg)
      if (a.code !== 'AE' || attempts > Number(retries)) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    process.stdout.write(JSON.stringify({ id, code: a.code, msa2: a.msa2, attempts, text: a.text }) + '\n')
  }
  await conn.close()
  client.closeAll()
}

main().then(() => process.exit(0), (err) => {
  console.error(`sender: ${err.stack || err}`)
  process.exit(1)
})
