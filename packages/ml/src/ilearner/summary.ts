import type { IlearnerFile } from "./format.js";

/** A few human-readable lines about a decoded .ilearner (for logs and the CLI). */
export function ilearnerSummary(file: IlearnerFile): string {
  const schema = file.featureSchema;
  const label = schema.label;
  const categorical = schema.inputs.filter((i) => i.kind === "categorical").length;
  const classes = label.classes === undefined ? "" : `; classes ${JSON.stringify(label.classes[0])} (0) / ${JSON.stringify(label.classes[1])} (1)`;
  const parameters = Object.entries(file.parameters)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(", ");
  const arrays = file.arrays.map((a) => `${a.name} ${a.dtype}[${a.length}]`).join(", ");
  const lineage = file.lineage;
  return [
    `${file.learner} (${file.task}) — .ilearner format ${file.formatVersion}, ${file.byteLength} bytes, sha256 ${file.sha256}`,
    `label: ${label.name} (${label.kind}${classes})`,
    `features: ${schema.inputs.length} input columns (${categorical} categorical${categorical > 0 ? (schema.oneHot ? ", one-hot" : ", ordinal") : ""}) → ${schema.outputs.length} model features; missing values: ${schema.missing}`,
    `parameters: ${parameters === "" ? "(none)" : parameters}`,
    `model: ${file.state.kind}; arrays: ${arrays === "" ? "(none)" : arrays}`,
    `lineage: dataset sha256 ${lineage.datasetSha256}, ${lineage.rows} rows, seed ${lineage.seed}, trained ${lineage.trainedAt} by @retrain/ml ${lineage.libraryVersion}${lineage.jobId === undefined ? "" : `, job ${lineage.jobId}`}`,
  ].join("\n");
}
