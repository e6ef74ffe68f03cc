/**
 * A small layered ("Sugiyama") layout, top to bottom, for graphs of a handful of nodes: ranks by
 * longest path, each edge's label placed as a box of its own in the band below its source (so labels
 * never sit on top of each other), long edges routed through placeholder points, order by barycentre
 * sweeps, and positions by least-squares placement within each band. Written here rather than pulled
 * in because the console must render server-side without a client library.
 */

export interface Size {
  width: number;
  height: number;
}

export interface LayoutNodeInput extends Size {
  id: string;
}

export interface LayoutEdgeInput {
  id: string;
  from: string;
  to: string;
  label: Size;
}

export interface Point {
  x: number;
  y: number;
}

/** A placed box; `x` and `y` are its centre. */
export interface Box extends Point, Size {}

export interface PlacedEdge {
  id: string;
  /** From the source's border to the target's, through the label box (top centre, then bottom centre). */
  points: Point[];
  label: Box;
}

export interface Layout extends Size {
  nodes: Map<string, Box>;
  edges: Map<string, PlacedEdge>;
}

const MARGIN = 16;
const H_GAP = 28;
const V_GAP = 22;

interface Item extends Size {
  key: string;
  up: Item[];
  down: Item[];
  x: number;
  y: number;
}

export function layoutGraph(nodes: readonly LayoutNodeInput[], edges: readonly LayoutEdgeInput[]): Layout {
  const ids = new Set(nodes.map((node) => node.id));
  const usable = edges.filter((edge) => ids.has(edge.from) && ids.has(edge.to));
  const loops = usable.filter((edge) => edge.from === edge.to);
  const links = usable.filter((edge) => edge.from !== edge.to);
  const reversed = backEdges(nodes, links);
  const directed = links.map((edge) =>
    reversed.has(edge.id) ? { ...edge, from: edge.to, to: edge.from } : { ...edge },
  );
  const rank = longestPathRanks(nodes, directed);

  // Bands: node rank r sits in band 2r; the labels of edges leaving it in band 2r + 1.
  const bands: Item[][] = [];
  const put = (band: number, item: Item): Item => {
    while (bands.length <= band) bands.push([]);
    bands[band]!.push(item);
    return item;
  };
  const item = (key: string, size: Size): Item => ({ key, ...size, up: [], down: [], x: 0, y: 0 });
  const nodeItems = new Map<string, Item>();
  for (const node of nodes) nodeItems.set(node.id, put(2 * rank.get(node.id)!, item(node.id, node)));
  const chains = new Map<string, Item[]>();
  for (const edge of directed) {
    const start = 2 * rank.get(edge.from)!;
    const end = 2 * rank.get(edge.to)!;
    const chain = [nodeItems.get(edge.from)!, put(start + 1, item(`label:${edge.id}`, edge.label))];
    for (let band = start + 2; band < end; band++)
      chain.push(put(band, item(`via:${edge.id}:${band}`, POINT)));
    chain.push(nodeItems.get(edge.to)!);
    for (let index = 1; index < chain.length; index++) {
      chain[index - 1]!.down.push(chain[index]!);
      chain[index]!.up.push(chain[index - 1]!);
    }
    chains.set(edge.id, chain);
  }

  order(bands);
  positionX(bands);
  positionY(bands);

  const all = bands.flat();
  const left = Math.min(...all.map((entry) => entry.x - entry.width / 2), 0);
  for (const entry of all) entry.x += MARGIN - left;
  const placedNodes = new Map<string, Box>();
  for (const [id, entry] of nodeItems) placedNodes.set(id, box(entry));

  const placedEdges = new Map<string, PlacedEdge>();
  for (const edge of directed) {
    const chain = chains.get(edge.id)!;
    const source = chain[0]!;
    const target = chain[chain.length - 1]!;
    const label = chain[1]!;
    // Into the label's top and out of its bottom, so the line reads as passing through the label.
    const points = [
      { x: source.x, y: source.y + source.height / 2 },
      { x: label.x, y: label.y - label.height / 2 },
      { x: label.x, y: label.y + label.height / 2 },
      ...chain.slice(2, -1).map((entry) => ({ x: entry.x, y: entry.y })),
      { x: target.x, y: target.y - target.height / 2 },
    ];
    if (reversed.has(edge.id)) points.reverse();
    placedEdges.set(edge.id, { id: edge.id, points, label: box(chain[1]!) });
  }
  let width = Math.max(...all.map((entry) => entry.x + entry.width / 2), 0) + MARGIN;
  for (const edge of loops) {
    // A node calling itself: a loop out of its right side, the label beside it.
    const node = placedNodes.get(edge.from)!;
    const right = node.x + node.width / 2;
    const label = { x: right + 24 + edge.label.width / 2, y: node.y, ...edge.label };
    placedEdges.set(edge.id, {
      id: edge.id,
      points: [
        { x: right, y: node.y - node.height / 4 },
        { x: right + 24, y: node.y },
        { x: right, y: node.y + node.height / 4 },
      ],
      label,
    });
    width = Math.max(width, label.x + label.width / 2 + MARGIN);
  }
  const height = Math.max(...all.map((entry) => entry.y + entry.height / 2), 0) + MARGIN;
  return { width, height, nodes: placedNodes, edges: placedEdges };
}

const POINT: Size = { width: 12, height: 0 };

function box(entry: Item): Box {
  return { x: entry.x, y: entry.y, width: entry.width, height: entry.height };
}

/** Edges that close a cycle (depth-first, in input order): drawn reversed for ranking only. */
function backEdges(nodes: readonly LayoutNodeInput[], edges: readonly LayoutEdgeInput[]): Set<string> {
  const out = new Map<string, LayoutEdgeInput[]>();
  for (const edge of edges) out.set(edge.from, [...(out.get(edge.from) ?? []), edge]);
  const state = new Map<string, 'open' | 'done'>();
  const back = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'open');
    for (const edge of out.get(id) ?? []) {
      const seen = state.get(edge.to);
      if (seen === 'open') back.add(edge.id);
      else if (seen === undefined) visit(edge.to);
    }
    state.set(id, 'done');
  };
  for (const node of nodes) if (!state.has(node.id)) visit(node.id);
  return back;
}

/** Each node one rank below its lowest caller, so every edge points down. */
function longestPathRanks(
  nodes: readonly LayoutNodeInput[],
  edges: readonly LayoutEdgeInput[],
): Map<string, number> {
  const rank = new Map(nodes.map((node) => [node.id, 0]));
  const incoming = new Map(nodes.map((node) => [node.id, 0]));
  for (const edge of edges) incoming.set(edge.to, incoming.get(edge.to)! + 1);
  const ready = nodes.filter((node) => incoming.get(node.id) === 0).map((node) => node.id);
  while (ready.length > 0) {
    const id = ready.shift()!;
    for (const edge of edges) {
      if (edge.from !== id) continue;
      rank.set(edge.to, Math.max(rank.get(edge.to)!, rank.get(id)! + 1));
      const left = incoming.get(edge.to)! - 1;
      incoming.set(edge.to, left);
      if (left === 0) ready.push(edge.to);
    }
  }
  return rank;
}

/** Reorders each band by the mean position of its neighbours, sweeping down and up a few times. */
function order(bands: Item[][]): void {
  for (let sweep = 0; sweep < 4; sweep++) {
    const downward = sweep % 2 === 0;
    const sequence = downward ? bands.slice(1) : bands.slice(0, -1).reverse();
    for (const band of sequence) {
      const index = new Map(bands.flatMap((other) => other.map((entry, at) => [entry, at] as const)));
      const weight = new Map(
        band.map((entry, at) => {
          const neighbours = downward ? entry.up : entry.down;
          const mean =
            neighbours.length === 0
              ? at
              : neighbours.reduce((sum, other) => sum + index.get(other)!, 0) / neighbours.length;
          return [entry, mean] as const;
        }),
      );
      band.sort((a, b) => weight.get(a)! - weight.get(b)!);
    }
  }
}

/** Centres each item over its neighbours as far as the band's order and spacing allow. */
function positionX(bands: Item[][]): void {
  for (const band of bands) {
    let cursor = 0;
    for (const entry of band) {
      entry.x = cursor + entry.width / 2;
      cursor += entry.width + H_GAP;
    }
  }
  for (let pass = 0; pass < 6; pass++) {
    const downward = pass % 2 === 0;
    const sequence = downward ? bands : [...bands].reverse();
    for (const band of sequence) {
      const ideals = band.map((entry) => {
        const neighbours = downward ? entry.up : entry.down;
        if (neighbours.length === 0) return entry.x;
        return neighbours.reduce((sum, other) => sum + other.x, 0) / neighbours.length;
      });
      const centres = place(
        band.map((entry) => entry.width),
        ideals,
      );
      band.forEach((entry, at) => {
        entry.x = centres[at]!;
      });
    }
  }
}

/**
 * Least-squares placement of boxes in a fixed order with a minimum gap: each box starts at its ideal
 * centre, and overlapping runs are merged and moved to the mean of their ideals (pool adjacent
 * violators).
 */
export function place(widths: readonly number[], ideals: readonly number[]): number[] {
  interface Block {
    first: number;
    last: number;
    /** Sum over members of (ideal left edge − offset within the block). */
    sum: number;
    count: number;
    width: number;
    left: number;
  }
  const blocks: Block[] = [];
  const offsets: number[] = [];
  widths.forEach((width, index) => {
    offsets[index] = 0;
    const ideal = ideals[index]! - width / 2;
    let block: Block = { first: index, last: index, sum: ideal, count: 1, width, left: ideal };
    while (blocks.length > 0) {
      const previous = blocks[blocks.length - 1]!;
      if (previous.left + previous.width + H_GAP <= block.left) break;
      blocks.pop();
      const shift = previous.width + H_GAP;
      for (let member = block.first; member <= block.last; member++) offsets[member]! += shift;
      const sum = previous.sum + block.sum - block.count * shift;
      const count = previous.count + block.count;
      block = {
        first: previous.first,
        last: block.last,
        sum,
        count,
        width: previous.width + H_GAP + block.width,
        left: sum / count,
      };
    }
    blocks.push(block);
  });
  const centres: number[] = [];
  for (const block of blocks) {
    for (let member = block.first; member <= block.last; member++)
      centres[member] = block.left + offsets[member]! + widths[member]! / 2;
  }
  return centres;
}

/** Stacks the bands: each as tall as its tallest box; an empty band takes no room. */
function positionY(bands: Item[][]): void {
  let cursor = MARGIN;
  for (const band of bands) {
    if (band.length === 0) continue;
    const height = Math.max(...band.map((entry) => entry.height));
    for (const entry of band) entry.y = cursor + height / 2;
    cursor += height + V_GAP;
  }
}
