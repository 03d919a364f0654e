import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'recordings/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through ConfigService (src/config); process.env is read only in src/config.',
        },
      ],
    },
  },
  {
    // Config loading, entrypoints that pick the process role, CLI scripts, the simulator
    // (its own program) and tests may read the environment directly.
    files: ['src/config/**', 'src/database/data-source.ts', 'src/simulator/**', 'test/**', 'bench/**', 'scripts/**', '**/*.spec.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // The simulator is an independent implementation of Zoom's side of the protocol:
    // it must not borrow the hub's code, or the two could not check each other.
    files: ['src/simulator/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../simulator/**'], message: 'The simulator must not import hub code.' }] }],
    },
  },
);
