/**
 * Import direction, checked rather than remembered:
 *   services -> api | projections -> schemas ; provision is leaf infrastructure.
 * Nothing imports services (entry points and adapters); projections never import api;
 * schemas import nothing of ours; tests may import anything.
 */
module.exports = {
  forbidden: [
    { name: 'nothing-imports-services', severity: 'error', from: { path: '^(api|projections|schemas|provision)/' }, to: { path: '^services/' } },
    { name: 'projections-not-api', severity: 'error', from: { path: '^projections/' }, to: { path: '^api/' } },
    { name: 'schemas-are-leaves', severity: 'error', from: { path: '^schemas/' }, to: { path: '^(api|projections|services|provision|test)/' } },
    { name: 'api-not-provision', severity: 'error', from: { path: '^(api|projections)/' }, to: { path: '^provision/' } },
    { name: 'provision-stands-alone', severity: 'error', from: { path: '^provision/' }, to: { path: '^(api|projections|services|schemas)/' } },
    { name: 'production-code-not-tests', severity: 'error', from: { path: '^(api|projections|schemas|services|provision)/' }, to: { path: '^test/' } },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
