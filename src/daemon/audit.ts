// The prototype's audit line, at LOG_ALERT: "AOD detected anomaly: <type> with
// <n> events". Without a syslog socket, one warning and carry on.
import { existsSync } from "node:fs";
import { log } from "../log";
import { cstr, libc } from "../native/libc";

const LOG_ALERT = 1;
const LOG_WARNING = 4;
const LOG_DAEMON = 3 << 3;
const LOG_PID = 0x01;
const ident = cstr("aod"); // openlog keeps the pointer: keep the buffer alive
let opened = false;
let warned = false;

function send(priority: number, msg: string): void {
  if (!existsSync("/dev/log")) {
    if (!warned) log.warn("no syslog socket (/dev/log): audit lines go to aod's log only", { line: msg });
    warned = true;
    return;
  }
  if (!opened) libc.openlog(ident, LOG_PID, LOG_DAEMON);
  opened = true;
  libc.syslog(LOG_DAEMON | priority, cstr("%s"), cstr(msg));
}

export const auditAnomaly = (type: string, n: number) =>
  send(LOG_ALERT, `AOD detected anomaly: ${type} with ${n} events`);
export const auditRestart = (component: string) =>
  send(LOG_WARNING, `AOD component ${component} restarted due to unexpected exit`);
