/**
 * `npm run bench -- --profile <scenario>`: a CPU profile of the Worker's isolate while one
 * scenario runs, to see what dominates a path. V8's sampling profiler is driven through
 * workerd's inspector; each sample's frame is mapped back to the module it was bundled from,
 * by the `// path` comments esbuild writes before each module in the (unminified) bundle.
 */
import { readFile } from 'node:fs/promises'
import type { Inspector } from './inspector'
import { runLoad } from './load'
import type { Scenario, ScenarioContext } from './scenarios'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
}

export interface ProfileSummary {
  scenario: string
  seconds: number
  rps: number
  /** Samples, the isolate's idle time excluded. */
  samples: number
  /** Share of the busy samples per module group, largest first. */
  groups: { group: string; share: number }[]
  /** Functions with the most self time. */
  functions: { name: string; group: string; share: number }[]
}

/** The first line of each bundled module, from esbuild's `// path` comments. */
async function moduleStarts(bundle: string): Promise<{ line: number; path: string }[]> {
  const lines = (await readFile(bundle, 'utf8')).split('\n')
  const starts: { line: number; path: string }[] = []
  for (const [index, text] of lines.entries()) {
    const match = /^\/\/ (\S+\.(?:[cm]?[jt]sx?))$/.exec(text)
    if (match) starts.push({ line: index, path: match[1] as string })
  }
  return starts
}

/** A readable group for a bundled module path: the package, or the project directory. */
function groupOf(path: string): string {
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (inPackage) return inPackage[1] as string
  const inProject = /(src|scripts)\/(.*)$/.exec(path)
  if (!inProject) return path
  const [, root, rest] = inProject as unknown as [string, string, string]
  const directory = rest.includes('/') ? rest.slice(0, rest.lastIndexOf('/')) : rest
  return `${root}/${directory}`
}

function frameGroup(
  frame: ProfileNode['callFrame'],
  starts: readonly { line: number; path: string }[],
): string {
  const { url, functionName } = frame
  if (url === '') {
    if (functionName.startsWith('(')) return functionName
    return functionName.startsWith('wasm') ? 'WebAssembly' : 'runtime built-ins'
  }
  if (url.startsWith('cloudflare-internal:')) return 'workerd bindings (JS)'
  if (url.startsWith('node-internal:') || url.startsWith('node:')) return 'workerd node compat'
  if (!url.endsWith('.js')) return 'WebAssembly'
  let group = 'bundle'
  for (const start of starts) {
    if (start.line > frame.lineNumber) break
    group = groupOf(start.path)
  }
  return group
}

/** Profiles the Worker's isolate while `scenario` runs for `seconds`. */
export async function profileScenario(
  inspector: Inspector,
  bundle: string,
  scenario: Scenario,
  context: ScenarioContext,
  seconds: number,
): Promise<ProfileSummary> {
  const spec = {
    url: context.worker.url,
    connections: scenario.connections,
    expect: scenario.expect,
    next: scenario.next,
  }
  if (scenario.primeRequests)
    await runLoad({ ...spec, seconds: 30, amount: scenario.primeRequests })
  await runLoad({ ...spec, seconds: 1 })
  await inspector.send('Profiler.enable')
  // 100 µs: fine enough for sub-millisecond requests, coarse enough to stay cheap.
  await inspector.send('Profiler.setSamplingInterval', { interval: 100 })
  await inspector.send('Profiler.start')
  const load = await runLoad({ ...spec, seconds })
  // The isolate answers inspector commands when it has work: one request lets it stop.
  const stopped = inspector.send('Profiler.stop', {}, 30_000)
  await fetch(new URL('/healthz', context.worker.url)).then((response) => response.text())
  const { profile } = (await stopped) as unknown as { profile: CpuProfile }

  const starts = await moduleStarts(bundle)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const groups = new Map<string, number>()
  const functions = new Map<string, { group: string; count: number }>()
  let busy = 0
  for (const id of profile.samples) {
    const node = byId.get(id)
    if (!node || node.callFrame.functionName === '(idle)') continue
    busy++
    const group = frameGroup(node.callFrame, starts)
    groups.set(group, (groups.get(group) ?? 0) + 1)
    const name = node.callFrame.functionName || '(anonymous)'
    const key = `${name} [${group}]`
    const entry = functions.get(key) ?? { group, count: 0 }
    entry.count++
    functions.set(key, entry)
  }
  const share = (count: number) => Math.round((1000 * count) / Math.max(1, busy)) / 10
  return {
    scenario: scenario.id,
    seconds,
    rps: Math.round(load.rps),
    samples: busy,
    groups: [...groups.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([group, count]) => ({ group, share: share(count) })),
    functions: [...functions.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, 15)
      .map(([key, { group, count }]) => ({
        name: key.slice(0, key.lastIndexOf(' [')),
        group,
        share: share(count),
      })),
  }
}

/** The summary as printed. */
export function profileText(summary: ProfileSummary): string {
  const lines = [
    `CPU profile of the Worker's isolate: ${summary.scenario}, ${summary.seconds} s, ${summary.rps} req/s`,
    `  shares of ${summary.samples} samples, the isolate's idle ones left out`,
    '  by module:',
    ...summary.groups.map(({ group, share }) => `    ${share.toFixed(1).padStart(5)}%  ${group}`),
    '  functions with the most self time:',
    ...summary.functions.map(
      ({ name, group, share }) => `    ${share.toFixed(1).padStart(5)}%  ${name}  (${group})`,
    ),
  ]
  return `${lines.join('\n')}\n`
}
