// Save and load zoo models as tfjs model JSON + weights.bin through our own IO handler, written atomically.
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { UserError } from "../util/errors.ts";
import { wrap, type ZooModel } from "../core/models.ts";
import { writeFileAtomic } from "./output.ts";

/** Writes `<dir>/model.json` and `<dir>/weights.bin` (each atomically; weights first). */
export async function saveModel(model: ZooModel, dir: string): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } });
  }));
  const a = artifacts! as tf.io.ModelArtifacts;
  const data = a.weightData instanceof ArrayBuffer
    ? a.weightData
    : tf.io.concatenateArrayBuffers(a.weightData as ArrayBuffer[]);
  await writeFileAtomic(join(dir, "weights.bin"), new Uint8Array(data));
  await writeFileAtomic(
    join(dir, "model.json"),
    JSON.stringify({
      format: "layers-model",
      generatedBy: `tfjs ${tf.version.tfjs}`,
      arch: model.arch,
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }],
    }),
  );
}

/** Loads a model saved by saveModel; the representation is the input of the last (logits) layer. */
export async function loadModel(dir: string): Promise<ZooModel> {
  let json: {
    arch: string;
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
  };
  let weights: Uint8Array;
  try {
    json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
    weights = await Deno.readFile(join(dir, "weights.bin"));
  } catch (err) {
    throw new UserError(`cannot load model from ${dir}: ${(err as Error).message}`);
  }
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: weights.slice().buffer,
  }));
  const last = model.layers[model.layers.length - 1];
  const rep = tf.model({ inputs: model.inputs, outputs: last.input as tf.SymbolicTensor });
  return wrap(json.arch, model, rep);
}
