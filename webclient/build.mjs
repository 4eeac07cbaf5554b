// Bundles the browser library into one ES module (make bundle):
//   node webclient/build.mjs [outfile]
// Default outfile: static/site/webclient.js, embedded by the gateway.
// SIP.js's WebRTC session description handler is replaced by a stub
// (sip/no-webrtc.js): the library never uses it.

import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

/** esbuild options shared by make bundle and the tests. */
export const options = {
  entryPoints: [path.join(here, 'index.js')],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
  legalComments: 'eof',
  minify: true,
  plugins: [{
    name: 'no-webrtc',
    setup(build) {
      build.onResolve({ filter: /session-description-handler-factory-default\.js$/ }, () => ({
        path: path.join(here, 'sip', 'no-webrtc.js'),
      }));
    },
  }],
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outfile = process.argv[2] ?? path.join(here, '..', 'static', 'site', 'webclient.js');
  await esbuild.build({ ...options, outfile, logLevel: 'warning' });
  console.log(`bundle: wrote ${path.relative(process.cwd(), outfile)}`);
}
