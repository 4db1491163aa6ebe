#pragma once
// glora's file formats: safetensors reading and writing, glora adapter files,
// merged models, sharded models, Hugging Face PEFT GLoRA adapters. Needs nlohmann/json (the
// CMake target glora::io); the core headers (<glora/glora.hpp>) do not.

#include <glora/io/adapter_file.hpp>
#include <glora/io/adapter_set.hpp>
#include <glora/io/atomic_file.hpp>
#include <glora/io/convert.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/layer_tensors.hpp>
#include <glora/io/load.hpp>
#include <glora/io/mapped_file.hpp>
#include <glora/io/merged_file.hpp>
#include <glora/io/peft.hpp>
#include <glora/io/safetensors_file.hpp>
#include <glora/io/safetensors_header.hpp>
#include <glora/io/safetensors_model.hpp>
#include <glora/io/safetensors_writer.hpp>
