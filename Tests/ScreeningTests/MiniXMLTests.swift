import Foundation
@testable import Screening
import Testing

/// The XML scanner behind ASAP annotation files.
@Suite struct MiniXMLTests {
    func events(_ text: String) throws(MiniXML.Failure) -> [String] {
        var out: [String] = []
        try MiniXML.scan(Array(text.utf8)) { event in
            switch event {
            case let .start(name, attributes, line): out.append("<\(name) \(attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) @\(line)")
            case let .end(name): out.append("</\(name)")
            }
        }
        return out
    }

    @Test func wellFormedDocuments() throws {
        let doc = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE ASAP_Annotations>
            <!-- written by ASAP -->
            <ASAP_Annotations>
              <Annotations>
                <Annotation Name="A &amp; B" Type='Polygon' PartOfGroup="_0"><Coordinates>
                  <Coordinate Order="0" X="1.5" Y="&#50;"/>
                </Coordinates></Annotation>
              </Annotations>
              <![CDATA[ <not a tag> ]]>
            </ASAP_Annotations>
            """
        #expect(try events(doc) == [
            "<ASAP_Annotations  @4", "<Annotations  @5", "<Annotation Name=A & B PartOfGroup=_0 Type=Polygon @6", "<Coordinates  @6",
            "<Coordinate Order=0 X=1.5 Y=2 @7", "</Coordinate", "</Coordinates", "</Annotation", "</Annotations", "</ASAP_Annotations",
        ])
    }

    @Test(arguments: [
        ("", "no root element"), ("<a>", "it ends inside <a>"), ("<a></b>", "</b> closes <a>"), ("</a>", "closes nothing"),
        ("<a x=1/>", "is not quoted"), ("<a x/>", "has no value"), ("<a x=\"1/>", "is not closed"), ("<a></a><b/>", "a second root element"),
        ("text<a/>", "text before the root element"), ("<a/>text", "text after the root element"), ("<!-- open", "unterminated comment"),
        ("<a x=\"&bogus;\"/>", "unknown entity"), ("<a x=\"&#xFFFFFFFF;\"/>", "unknown entity"), ("<a x=\"a<b\"/>", "< inside attribute"),
        ("< a/>", "a tag without a name"), ("<a", "<a is not closed"),
    ])
    func malformedDocumentsAreRefused(_ text: String, _ message: String) {
        #expect(throws: MiniXML.Failure.self) { try events(text) }
        do { _ = try events(text) } catch { #expect(error.problem.contains(message), "\(error.problem)") }
    }
}
