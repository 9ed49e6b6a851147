export { startEmbedded } from "./embedded.js";
export type { Embedded, EmbeddedOptions } from "./embedded.js";
