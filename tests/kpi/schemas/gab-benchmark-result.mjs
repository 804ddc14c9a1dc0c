// Verbatim from github-action-benchmark src/extract.ts (commit c38cce98215cf75e178ecd5a0c1a1ab215e93006):
// the zod schema and the checks the action applies to a customSmallerIsBetter / customBiggerIsBetter file.
// Usage: node gab-benchmark-result.mjs FILE  (needs `zod`, the action's dependency ^4.1.5, resolvable).
import { promises as fs } from 'fs';
import { z } from 'zod';

export const BenchmarkResult = z.object({
    name: z.coerce.string(),
    value: z.coerce.number(),
    range: z.coerce.string().optional(),
    unit: z.coerce.string(),
    extra: z.coerce.string().optional(),
});

export const BenchmarkResults = z.array(BenchmarkResult);

function extractCustomBenchmarkResult(output) {
    try {
        return BenchmarkResults.parse(JSON.parse(output));
    } catch (err) {
        const errMessage = err instanceof Error ? err.message : String(err);
        throw new Error(
            `Output file for 'custom-(bigger|smaller)-is-better' must be JSON file containing an array of entries in BenchmarkResult format: ${errMessage}`,
        );
    }
}

const path = process.argv[2];
const output = await fs.readFile(path, 'utf8');
const benches = extractCustomBenchmarkResult(output);
if (benches.length === 0) {
    throw new Error(`No benchmark result was found in ${path}. Benchmark output was '${output}'`);
}
console.log(JSON.stringify(benches));
