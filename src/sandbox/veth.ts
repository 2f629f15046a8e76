import { spawnSync } from 'node:child_process';
import { RdError } from '../errors.js';
import { findProgram } from '../rescue/programs.js';

/**
 * A veth pair between the host and the sandbox on a private /30 taken from
 * 169.254.0.0/16 (link-local: never routed). The host end gets no route
 * beyond the /30 and forwarding is switched off on it, so the sandbox can
 * reach the host and nothing else.
 */
export interface VethPlan {
  /** Host-side interface name (the sandbox side is eth0). */
  hostIf: string;
  /** e.g. 169.254.12.1/30 */
  hostAddr: string;
  /** e.g. 169.254.12.2/30 */
  sandboxAddr: string;
}

function ipOf(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function parseIp(s: string): number {
  return s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

/** Host IPv4 networks as [first, last] address ranges. */
function hostRanges(ipOutput: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const m of ipOutput.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)) {
    const bits = Number(m[2]);
    const size = 2 ** (32 - bits);
    const first = Math.floor(parseIp(m[1]) / size) * size;
    out.push([first, first + size - 1]);
  }
  return out;
}

/** Picks a /30 and an interface name that the host does not use yet. */
export function planVeth(seed: number = process.pid): VethPlan {
  const ip = findProgram('ip');
  if (!ip) throw new RdError('--net veth needs the "ip" program (iproute2)');
  const addrs = spawnSync(ip, ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const links = spawnSync(ip, ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const used = hostRanges(addrs);
  const base = parseIp('169.254.0.0');
  // /30 number k covers 169.254.0.0 + 4k; 64..16319 (169.254.1.0-169.254.254.255) stays clear of 169.254.0.x and 169.254.255.x, which RFC 3927 reserves.
  for (let i = 0; i < 16256; i++) {
    const k = 64 + ((seed + i) % 16256);
    const net = base + 4 * k;
    if (used.some(([a, b]) => a <= net + 3 && net <= b)) continue;
    let name = `rdsb${seed % 1e7}`;
    for (let j = 0; links.includes(` ${name}@`) || links.includes(` ${name}:`); j++) name = `rdsb${(seed + j + 1) % 1e7}`;
    return { hostIf: name, hostAddr: `${ipOf(net + 1)}/30`, sandboxAddr: `${ipOf(net + 2)}/30` };
  }
  throw new RdError('--net veth: no free /30 left in 169.254.0.0/16');
}

/**
 * Deletes the host end now. The kernel deletes the pair by itself when the
 * sandbox's network namespace goes away, but asynchronously; this makes it
 * gone by the time rdrescue exits. An already-missing device is fine.
 */
export function removeVeth(hostIf: string): void {
  const ip = findProgram('ip');
  if (ip) spawnSync(ip, ['link', 'del', hostIf], { stdio: 'ignore' });
}
