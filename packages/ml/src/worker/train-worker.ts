// Entry script of a training worker (loaded from dist/ by trainInWorker). Its only job is to run the
// job it was given; everything it does is in protocol.ts.
import { parentPort, workerData } from "node:worker_threads";
import { runTrainingJob, type TrainingJob } from "./protocol.js";

if (parentPort !== null) runTrainingJob(workerData as TrainingJob, parentPort);
