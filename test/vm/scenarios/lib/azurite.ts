// Azurite from inside the VM (10-service's upload phase), with the host-side
// test helper's keys and SAS signing (test/upload/azurite.ts). The scenario
// starts Azurite's blob server itself (node, as the helper does); this script
// makes the container, the SAS the service uses, and reads back what arrived.
//
//   bun azurite.ts create URL CONTAINER         the container (account SAS)
//   bun azurite.ts sas CONTAINER                a container SAS (read, create, write) on stdout
//   bun azurite.ts dump URL CONTAINER OUT DIR   every blob: OUT = JSON [{name, size, sha256,
//                                               content_type, metadata, sidecar?}]; sidecars
//                                               (*.manifest.json) also saved in DIR
import { createHash, createHmac } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { ACCOUNT, ACCOUNT_KEY, makeSas, unxml } from "../../../upload/azurite";

const VERSION = "2021-08-06";

/** An account SAS with every blob right, signed as the helper signs its own (container, list, get). */
function accountSas(): string {
  const sp = "rwdlacup";
  const se = `${new Date(Date.now() + 3600_000).toISOString().slice(0, 19)}Z`;
  const sig = createHmac("sha256", Buffer.from(ACCOUNT_KEY, "base64"))
    .update([ACCOUNT, sp, "b", "sco", "", se, "", "", VERSION, "", ""].join("\n"), "utf8")
    .digest("base64");
  return new URLSearchParams({ sv: VERSION, ss: "b", srt: "sco", sp, se, sig }).toString();
}

const call = (method: string, url: string, path: string, query = "") =>
  fetch(`${url}/${path}?${query}${query ? "&" : ""}${accountSas()}`, {
    method,
    headers: { "x-ms-version": VERSION },
  });

function fail(message: string): never {
  console.error(`azurite.ts: ${message}`);
  process.exit(1);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "sas") {
  console.log(makeSas({ container: args[0] ?? fail("sas CONTAINER") }));
} else if (cmd === "create") {
  const [url, container] = args;
  if (!url || !container) fail("create URL CONTAINER");
  const res = await call("PUT", url, encodeURIComponent(container), "restype=container");
  if (res.status !== 201) fail(`create container ${container}: HTTP ${res.status} ${await res.text()}`);
} else if (cmd === "dump") {
  const [url, container, out, dir] = args;
  if (!url || !container || !out || !dir) fail("dump URL CONTAINER OUT DIR");
  const c = encodeURIComponent(container);
  const list = await call("GET", url, c, "restype=container&comp=list");
  const xml = await list.text();
  if (list.status !== 200) fail(`list ${container}: HTTP ${list.status} ${xml}`);
  const names = [...xml.matchAll(/<Blob>\s*<Name>([^<]*)<\/Name>/g)].map((m) => unxml(m[1]!));
  mkdirSync(dir, { recursive: true });
  const blobs = [];
  for (const name of names) {
    const res = await call("GET", url, `${c}/${name.split("/").map(encodeURIComponent).join("/")}`);
    if (res.status !== 200) fail(`get ${container}/${name}: HTTP ${res.status} ${await res.text()}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const metadata: Record<string, string> = {};
    for (const [k, v] of res.headers) if (k.startsWith("x-ms-meta-")) metadata[k.slice(10)] = v;
    const blob: Record<string, unknown> = {
      name,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      content_type: res.headers.get("content-type"),
      metadata,
    };
    if (name.endsWith(".manifest.json")) {
      writeFileSync(join(dir, basename(name)), bytes);
      try {
        blob.sidecar = JSON.parse(new TextDecoder().decode(bytes));
      } catch (e) {
        blob.sidecar_error = String(e);
      }
    }
    blobs.push(blob);
  }
  writeFileSync(out, `${JSON.stringify(blobs, null, 2)}\n`);
} else {
  fail(`unknown command ${cmd ?? "(none)"}: create | sas | dump`);
}
