import XCTest
@testable import Scientist

final class LatexChecksTests: XCTestCase {
    func testEachCheckNamesWhatIsWrong() {
        let tex = #"""
            \begin{filecontents}{references.bib}
            @article{kingma2014adam, title={Adam}, year={2014}}
            \end{filecontents}
            \section{Method}
            Adam~\citep{kingma2014adam} and \citet[p.~3]{vaswani2017attention}, again \cite{kingma2014adam,smith2020}.
            \includegraphics[width=0.5\linewidth]{val_loss_sine.png}
            \includegraphics{val_loss_step}
            \includegraphics{val_loss_sine.png}
            \includegraphics{made_up.png}
            % \includegraphics{commented_out.png} \cite{commented}
            \label{fig:sine} See Figure~\ref{fig:sine} and Table~\ref{tab:missing}, 100\% sure.
            \section{Method}
            """#
        let problems = LatexChecks.problems(tex: tex, figures: ["val_loss_sine.png", "val_loss_step.pdf"])
        XCTAssertEqual(problems, [
            "\\cite{vaswani2017attention}: no entry vaswani2017attention in the bibliography; cite only the references.bib keys, or drop the citation",
            "\\cite{smith2020}: no entry smith2020 in the bibliography; cite only the references.bib keys, or drop the citation",
            "figure val_loss_sine.png is included twice; each figure once",
            "figure made_up.png does not exist; the figures are val_loss_sine.png, val_loss_step.pdf",
            "the section header \"Method\" appears twice; merge the two sections",
            "\\ref{tab:missing}: no \\label{tab:missing} in the paper",
        ])
    }

    func testACleanPaperHasNoProblems() {
        let tex = #"\section{Intro} \cite{a} \includegraphics{fig.png} \label{x} \ref{x}"#
        XCTAssertEqual(LatexChecks.problems(tex: tex, bibliography: "@misc{a,\n title={A}}", figures: ["fig.png"]), [])
    }
}
