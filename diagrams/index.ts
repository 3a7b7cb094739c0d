export { HistoryParseError } from './errors.ts';
/**
 * Drawing the backend machine for people: DOT, Mermaid, SVG and HTML from the graph machines/
 * extracts, optionally with a backend's path or a range's counted transitions. The Graphviz layout
 * (WebAssembly) is imported separately (graphviz.ts) so DOT and Mermaid output load none of it.
 */
export {
  parseHistory,
  renderDiagram,
  toDot,
  toHtml,
  toMermaid,
  type DiagramDetail,
  type DiagramFormat,
  type HistoryStep,
  type RenderOptions,
} from './diagram.ts';
export { foldedGraph, toFoldedDot, toFoldedMermaid, type FoldedEdge, type FoldedGraph, type Visit } from './folded.ts';
