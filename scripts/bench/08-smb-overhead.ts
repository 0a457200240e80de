// 8. SMB overhead: the real-SMB workload with and without `aod run`. It needs
// an SMB server and client, so it runs in the VM scenarios (test/vm, owned by
// the VM work), not here: `make bench` prints this note and records a row.
import { report } from "./lib";

console.log(
  "08-smb-overhead: skipped in make bench — the real-SMB workload with and without aod runs in the VM scenarios (make test-vm); see test/vm.",
);
report("8. SMB overhead (VM)", [
  {
    metric: "real-SMB workload with vs without `aod run`",
    result: "not run by make bench",
    note: "comes from the VM scenario (make test-vm, test/vm/), owned by the VM work",
  },
]);
