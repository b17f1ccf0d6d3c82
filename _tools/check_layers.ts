/**
 * Checks the project's import graph (`deno info --json` over every `.ts` file
 * below the root) against the layers README.md declares, in its table
 * `| layer | folder | what |`:
 *
 * - a folder of the table (or a file of the root it names, `main.ts`) imports
 *   only folders of lower layers (not one of its own layer), and nothing the
 *   table does not name (bench/, tests/, packaging/, the root's `mod.ts`);
 * - across folders, a folder of the table is imported only through its
 *   `mod.ts`, and a private file (`_name.ts`) not at all;
 * - no file imports itself through others: no cycle, in a folder or across.
 *
 * Tests (`*_test.ts`, and everything in `tests/`) may import any file of their
 * own folder and, across folders, any folder's `mod.ts` (`testkit/` too, whatever
 * its layer); bench/ and the root's `mod.ts` import the folders through their
 * `mod.ts` as well. Prints the layers it checked, lowest first; then each problem
 * with the imports that make it, and exits 1, or that there is none.
 *
 * ```sh
 * deno run --allow-read --allow-run _tools/check_layers.ts [ROOT]
 * ```
 *
 * ROOT defaults to the current directory.
 *
 * @module
 */

interface DenoInfo {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
  }[];
}

/** An import from one file to another, both relative to the root. */
export interface Edge {
  from: string;
  to: string;
}

/** What {@linkcode checkLayers} found. */
export interface LayerReport {
  /** The layers of the table: each folder (`cli`) or root file (`main.ts`) and its layer. */
  layers: Map<string, number>;
  /** How many files were checked. */
  files: number;
  /** Each problem, as a line of text; none when the graph keeps the layers. */
  problems: string[];
}

/**
 * The folder a file belongs to: its first path segment; a file at the root is
 * its own unit (`main.ts`, `mod.ts`).
 */
export function unitOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? path : path.slice(0, i);
}

/** Whether `path` is a test: a `*_test.ts` file, or anything in `tests/`. */
export function isTest(path: string): boolean {
  return path.endsWith("_test.ts") || unitOf(path) === "tests";
}

/**
 * The layer table of a README (`| layer | folder | what |`, one row a folder
 * or root file, rows with an empty layer continuing the one before): each
 * folder (without its `/`) or file and its layer. Throws when there is none.
 */
export function readLayers(readme: string): Map<string, number> {
  const lines = readme.split("\n");
  const head = lines.findIndex((l) => /^\|\s*layer\s*\|\s*folder\s*\|/.test(l));
  if (head < 0) throw new Error("no layer table (| layer | folder | what |) in the README");
  const layers = new Map<string, number>();
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith("|")) break;
    const [, layer = "", folder = ""] = line.split("|").map((c) => c.trim());
    if (layer === "") continue;
    const name = /^`([^`]+)`$/.exec(folder)?.[1]?.replace(/\/$/, "");
    if (!/^\d+$/.test(layer) || name === undefined) {
      throw new Error(`layer table: cannot read the row "${line}"`);
    }
    layers.set(name, Number(layer));
  }
  if (layers.size === 0) throw new Error("the layer table of the README has no rows");
  return layers;
}

/** The layers, lowest first: `0 config/ ground/; 1 relay/ …; 6 main.ts`. */
export function describeLayers(layers: Map<string, number>): string {
  const by = new Map<number, string[]>();
  for (const [name, layer] of layers) {
    by.set(layer, [...by.get(layer) ?? [], name.endsWith(".ts") ? name : `${name}/`]);
  }
  return [...by.keys()].sort((a, b) => a - b).map((l) => `${l} ${by.get(l)!.join(" ")}`).join(
    "; ",
  );
}

/**
 * The problems of an import graph, given the layers (see the module's doc):
 * imports against the layer order (one line per pair of folders, with the
 * imports), private imports across folders, imports past a folder's `mod.ts`,
 * and file cycles.
 */
export function layerProblems(edges: Edge[], layers: Map<string, number>): string[] {
  const problems: string[] = [];
  const add = (text: string) => {
    if (!problems.includes(text)) problems.push(text);
  };
  const against = new Map<string, Edge[]>();
  for (const e of edges) {
    const a = unitOf(e.from);
    const b = unitOf(e.to);
    if (a === b) continue;
    const base = e.to.slice(e.to.lastIndexOf("/") + 1);
    if (layers.has(b) && b !== e.to && base !== "mod.ts") {
      add(`import past a folder's public face: ${e.from} imports ${e.to}, not ${b}/mod.ts`);
    } else if (base.startsWith("_")) {
      add(`private import across folders: ${e.from} imports ${e.to}`);
    }
    const from = layers.get(a);
    if (from === undefined || isTest(e.from)) continue;
    const to = layers.get(b);
    if (to !== undefined && to < from) continue;
    const key = `${a} (layer ${from}) imports ${b} (${
      to === undefined ? "not in the layer table" : `layer ${to}`
    })`;
    against.set(key, [...against.get(key) ?? [], e]);
  }
  for (const [key, via] of against) {
    const shown = via.slice(0, 2).map((e) => `${e.from} -> ${e.to}`).join(", ");
    const more = via.length > 2 ? `, and ${via.length - 2} more` : "";
    add(`against the layer order: ${key}: ${shown}${more}`);
  }
  for (const cycle of cycles(edges)) add(`file cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
  return problems;
}

/** One cycle through each group of files that import each other (Tarjan), from its first file. */
function cycles(edges: Edge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    graph.get(e.from)!.add(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const groups: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      on.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || graph.get(v)?.has(v)) groups.push(group);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  // Follow imports inside the group from its first file until one leads back to it.
  return groups.map((group) => {
    const inside = new Set(group);
    const start = [...group].sort()[0]!;
    const path = [start];
    const seen = new Set([start]);
    const walk = (v: string): boolean => {
      for (const w of graph.get(v) ?? []) {
        if (w === start) return true;
        if (!inside.has(w) || seen.has(w)) continue;
        seen.add(w);
        path.push(w);
        if (walk(w)) return true;
        path.pop();
      }
      return false;
    };
    walk(start);
    return path;
  });
}

/** The `.ts` files below `root`, relative to it (not in dot folders, `node_modules` or `dist`). */
export async function projectFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) {
        if (e.name.startsWith(".") || e.name === "node_modules" || e.name === "dist") continue;
        await walk(`${dir}/${e.name}`, `${prefix}${e.name}/`);
      } else if (e.isFile && e.name.endsWith(".ts")) out.push(`${prefix}${e.name}`);
    }
  };
  await walk(root, "");
  return out.sort();
}

/** The imports between the project's own files reachable from `files` (relative to `root`). */
export async function projectEdges(root: string, files: string[]): Promise<Edge[]> {
  const base = new URL(`file://${Deno.realPathSync(root)}/`).href;
  const rel = (s: string | undefined) =>
    s !== undefined && s.startsWith(base) ? decodeURIComponent(s.slice(base.length)) : undefined;
  // One `deno info` for all of them: a module that imports each file.
  const entry = files.map((f) => `import ${JSON.stringify(new URL(f, base).href)};\n`).join("");
  const bytes = new TextEncoder().encode(entry);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `data:application/typescript;base64,${toBase64(bytes)}`],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info --json failed in ${root}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as DenoInfo;
  const edges: Edge[] = [];
  for (const m of info.modules) {
    const from = rel(m.specifier);
    if (from === undefined) continue;
    for (const d of m.dependencies ?? []) {
      const to = rel(d.code?.specifier ?? d.type?.specifier);
      if (to !== undefined) edges.push({ from, to });
    }
  }
  return edges;
}

/** Checks every `.ts` file below `root` against the layer table of `root/README.md`. */
export async function checkLayers(root: string): Promise<LayerReport> {
  const layers = readLayers(await Deno.readTextFile(`${root}/README.md`));
  const files = await projectFiles(root);
  return {
    layers,
    files: files.length,
    problems: layerProblems(await projectEdges(root, files), layers),
  };
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

if (import.meta.main) {
  const root = Deno.args[0] ?? ".";
  const report = await checkLayers(root);
  console.log(
    `check_layers: the layers of README.md, lowest first: ${describeLayers(report.layers)}`,
  );
  for (const p of report.problems) console.error(`check_layers: ${p}`);
  if (report.problems.length > 0) {
    console.error(
      `check_layers: ${report.problems.length} problem(s) in ${report.files} files: move the shared piece down a layer (ground/), import the folder's mod.ts instead, or break the cycle`,
    );
    Deno.exitCode = 1;
  } else {
    console.log(
      `check_layers: ${report.files} files (bench/ and tests/ too): each folder imports only lower layers, through their mod.ts; no private import across folders; no file cycle`,
    );
  }
}
