/** Entry point of the bundled CLI (dist/attnc.js) and of `npm run attnc` in development. */
import { main } from './attnc.ts';

// A closed pipe (`attnc … | head`) ends the program quietly.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
