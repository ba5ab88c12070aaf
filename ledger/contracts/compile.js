// compile.js compiles Anchor.sol with the npm solc package (pinned in the
// Makefile) and writes build/Anchor.abi and build/Anchor.bin under OUT_DIR
// (default: this directory).
const fs = require('fs');
const path = require('path');
const solc = require(process.env.SOLC_MODULE || 'solc');

const src = fs.readFileSync(path.join(__dirname, 'Anchor.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'Anchor.sol': { content: src } },
  settings: {
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 10000 },
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of out.errors || []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);
const c = out.contracts['Anchor.sol'].Anchor;
const outDir = path.join(process.env.OUT_DIR || __dirname, 'build');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'Anchor.abi'), JSON.stringify(c.abi, null, 1) + '\n');
fs.writeFileSync(path.join(outDir, 'Anchor.bin'), c.evm.bytecode.object + '\n');
console.log('solc', solc.version(), 'evmVersion paris: wrote build/Anchor.abi, build/Anchor.bin');
