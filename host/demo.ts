// `npm start`: the main job. Filled in as the device client lands.
console.log('iothub-wasm: building up');
