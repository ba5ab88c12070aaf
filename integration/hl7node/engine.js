// engine.js plays a hospital's HL7 v2 interface engine with node-hl7-server
// (third-party software, from npm): it listens on 127.0.0.1:PORT and
// answers every message, printing one line per message it took:
//
//   node engine.js PORT MODE
//
// MODE is
//   normal  answer AA on the connection, as node-hl7-server does;
//   close   answer AA, then close the connection (the behaviour
//           node-hl7-server's README describes);
//   ae      answer AE (application error) and take nothing.
//
// Lines on stdout: "LISTEN port" once, then "MSG <MSH-10>" for each message
// taken (AA) or "AE <MSH-10>" for each refused. SIGTERM closes the
// listener between messages and exits 0.
'use strict'
const { Server } = require('node-hl7-server')

const [port, mode] = [Number(process.argv[2]), process.argv[3] || 'normal']
if (!port || !['normal', 'close', 'ae'].includes(mode)) {
  console.error('usage: node engine.js PORT normal|close|ae')
  process.exit(2)
}

const server = new Server({ bindAddress: '127.0.0.1' })
const inbound = server.createInbound({ port }, async (req, res) => {
  const id = req.getMessage().get('MSH.10').toString()
  if (mode === 'ae') {
    process.stdout.write(`AE ${id}\n`)
    await res.sendResponse('AE')
    return
  }
  process.stdout.write(`MSG ${id}\n`)
  await res.sendResponse('AA')
  if (mode === 'close') {
    res._socket.end() // node-hl7-server keeps no public handle on the socket
  }
})
inbound.on('listen', () => process.stdout.write(`LISTEN ${port}\n`))
inbound.on('error', (err) => {
  console.error(`engine: ${err.message}`)
  process.exit(1)
})
process.on('SIGTERM', async () => {
  await inbound.close()
  process.exit(0)
})
