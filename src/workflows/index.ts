// The workflows this worker runs (the bundle's entry point).
export { migration } from './migration';
