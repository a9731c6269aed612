# edri_add_plugin(<name> <sources>... [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds a manager plugin as a loadable module named libedri_<name>.so that
# exports only its entry symbol. Works in this tree and, through the installed
# edri CMake package, outside it; there `cmake --install` puts the plugin in
# <prefix>/<libdir>/edri/plugins, where an edrid installed under the same
# prefix looks (NO_INSTALL: no install rule).
include(GNUInstallDirs)

function(edri_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "" ${ARGN})
  add_library(${name} MODULE ${ARG_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE edri::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "edri_${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # No undefined symbols: everything from the host comes through its table.
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  # Hidden visibility does not reach what libstdc++'s headers instantiate
  # (std:: has default visibility), and one such symbol is STB_GNU_UNIQUE,
  # which keeps a library loaded after dlclose. A version script makes
  # everything but the entry local.
  set(map "${CMAKE_BINARY_DIR}/edri_plugin_exports.map")
  if(NOT EXISTS "${map}")
    file(WRITE "${map}" "{\n  global: edri_plugin_entry;\n  local: *;\n};\n")
  endif()
  target_link_options(${name} PRIVATE "LINKER:--version-script=${map}")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${map}")
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED EDRI_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${EDRI_PLUGIN_OUTPUT_DIR}")
  endif()
  # In edri's own tree each plugin says where it installs (test fixtures do not).
  if(NOT EDRI_IN_TREE AND NOT ARG_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}/edri/plugins")
  endif()
endfunction()
