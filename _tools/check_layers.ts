/**
 * Checks the project's layers from its import graph (`deno info --json`): no
 * cycle between top-level folders, and no file of one folder importing
 * another folder's files except through its public face, `mod.ts`. Prints each problem with the imports
 * that make it and exits 1; prints the folder order and exits 0 when clean.
 *
 * ```sh
 * deno run --allow-read --allow-run _tools/check_layers.ts [ROOT] [ENTRY...]
 * ```
 *
 * ROOT defaults to the current directory, ENTRY to `main.ts mod.ts`.
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

/** The folder a file belongs to: its first path segment, or `.` for files at the root. */
export function folderOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? "." : path.slice(0, i);
}

/**
 * The problems of an import graph: folder cycles (with their imports), private
 * imports across folders and, with `publicFaces`, any import of another
 * folder's file but its `mod.ts`.
 */
export function layerProblems(edges: Edge[], publicFaces = false): string[] {
  const problems: string[] = [];
  const between = new Map<string, Map<string, Edge[]>>();
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    const base = e.to.slice(e.to.lastIndexOf("/") + 1);
    if (publicFaces && b !== "." && base !== "mod.ts") {
      const text = `import past a folder's public face: ${e.from} imports ${e.to}, not ${b}/mod.ts`;
      if (!problems.includes(text)) problems.push(text);
    } else if (base.startsWith("_")) {
      const text = `private import across folders: ${e.from} imports ${e.to}`;
      if (!problems.includes(text)) problems.push(text);
    }
    if (!between.has(a)) between.set(a, new Map());
    const out = between.get(a)!;
    if (!out.has(b)) out.set(b, []);
    out.get(b)!.push(e);
  }
  for (const cycle of folderCycles(between, problems)) {
    const ties = cycle.map((a, i) => {
      const b = cycle[(i + 1) % cycle.length]!;
      const via = [...new Set(between.get(a)?.get(b)?.map((e) => `${e.from} -> ${e.to}`))];
      const more = via.length > 2 ? `, and ${via.length - 2} more` : "";
      return `${a} -> ${b} (${via.slice(0, 2).join(", ")}${more})`;
    });
    problems.push(`folder cycle: ${cycle.join(" -> ")} -> ${cycle[0]}: ${ties.join("; ")}`);
  }
  return problems;
}

/** Strongly connected groups of two or more folders (Tarjan), each as one cycle through it. */
function folderCycles(graph: Map<string, Map<string, Edge[]>>, problems: string[]): string[][] {
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
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) {
        groups.push(group);
        problems.push(`folders in one cycle: ${[...group].sort().join(", ")}`);
      }
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  // One cycle through each group: follow edges inside it from its first folder back to it.
  return groups.map((group) => {
    const inside = new Set(group);
    const start = [...group].sort()[0]!;
    const path = [start];
    const seen = new Set([start]);
    const walk = (v: string): boolean => {
      for (const w of graph.get(v)?.keys() ?? []) {
        if (!inside.has(w)) continue;
        if (w === start) return true;
        if (seen.has(w)) continue;
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

/** The imports between the project's own files reachable from `entries`. */
export async function projectEdges(root: string, entries: string[]): Promise<Edge[]> {
  const base = new URL(`file://${Deno.realPathSync(root)}/`).href;
  const rel = (s: string | undefined) =>
    s !== undefined && s.startsWith(base) ? decodeURIComponent(s.slice(base.length)) : undefined;
  const edges: Edge[] = [];
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `deno info --json ${entry} failed in ${root}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as DenoInfo;
    for (const m of info.modules) {
      const from = rel(m.specifier);
      if (from === undefined) continue;
      for (const d of m.dependencies ?? []) {
        const to = rel(d.code?.specifier ?? d.type?.specifier);
        if (to !== undefined) edges.push({ from, to });
      }
    }
  }
  return edges;
}

if (import.meta.main) {
  const [root = ".", ...rest] = Deno.args;
  const entries = rest.length > 0 ? rest : ["main.ts", "mod.ts"];
  const problems = layerProblems(await projectEdges(root, entries), true);
  for (const p of problems) console.error(`check_layers: ${p}`);
  if (problems.length > 0) {
    console.error(
      `check_layers: ${problems.length} problem(s): move the shared piece down a layer (ground/), or import the folder's public file instead`,
    );
    Deno.exitCode = 1;
  } else console.log("check_layers: no folder cycle, no private import across folders");
}
