# One place for compiler flags shared by every target of the tree.
add_library(pgw_warnings INTERFACE)
target_compile_options(pgw_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2)
if(PGW_WERROR)
  target_compile_options(pgw_warnings INTERFACE -Werror)
endif()
if(PGW_SANITIZE)
  target_compile_options(pgw_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(pgw_warnings INTERFACE -fsanitize=address,undefined)
endif()
