// Runs a wasm32-wasip1 program under node's WASI: `node wasi-run.mjs PROGRAM.wasm DIR ARGS...`
// gives the program DIR as /data and `/data ARGS...` as its arguments; exits with its status.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const [program, dir, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: "preview1",
  args: [program, "/data", ...args],
  env: {},
  preopens: { "/data": dir },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
