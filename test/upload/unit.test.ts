// The systemd unit with `upload:`: outgoing IPv4/IPv6 anywhere (the storage
// service, a proxy, the instance metadata service), a state_dir other than the
// StateDirectory writable; nothing without upload. Still verifies and keeps
// its exposure.
import { expect, test } from "bun:test";
import { addedLines, unitFor } from "../install/unit-for";

const UPLOAD =
  "upload:\n  target: azure_blob\n  account_url: https://a.blob.core.windows.net\n  container: c\n  auth: managed_identity\n";

test("upload: AF_INET, AF_INET6 and IPAddressAllow=any; the proxy drop-in is named", () => {
  const u = unitFor(UPLOAD);
  expect(addedLines(u)).toEqual(["IPAddressAllow=any", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"]);
  expect(u).toContain("# [Service] Environment=HTTPS_PROXY=http://proxy:3128 NO_PROXY=169.254.169.254");
  expect(u).toContain("AF_INET/AF_INET6: upload.");
});

test("upload with metrics on loopback: one allow line (any), the families once", () => {
  const u = unitFor(`${UPLOAD}metrics:\n  listen: 127.0.0.1:9469\n`);
  expect(addedLines(u)).toEqual(["IPAddressAllow=any", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"]);
  expect(u).toContain("AF_INET/AF_INET6: metrics.listen, upload.");
});

test("a state_dir elsewhere is writable; the default is the StateDirectory", () => {
  expect(unitFor(`state_dir: /var/lib/aod\n${UPLOAD}`)).not.toContain("ReadWritePaths=/var/lib/aod");
  expect(addedLines(unitFor(`state_dir: /srv/aod-state\n${UPLOAD}`))).toContain("ReadWritePaths=/srv/aod-state");
});
