/** Graphviz compiled to WebAssembly: DOT → SVG in-process, no `dot` binary, no network. */
export async function graphvizLayout(): Promise<(dot: string) => string> {
  const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
  const gv = await Graphviz.load();
  return (dot: string) => gv.dot(dot);
}
