#pragma once
// Private to the record writers: flattening nested rows into columns and the
// table writer's factory.
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cloze/records.h"

namespace cloze::records {

// (column, value) pairs of a row with nested objects spelled "name.key".
using FlatRow = std::vector<std::pair<std::string, const Row*>>;
FlatRow flatten(const Row& row);

// Throws std::logic_error unless `row` is an object (callers build rows; a
// non-object is a bug, not bad input).
void require_object(const Row& row, const char* writer);

std::unique_ptr<RecordWriter> make_table_writer(std::ostream& out, const WriterOptions& options);

}  // namespace cloze::records
